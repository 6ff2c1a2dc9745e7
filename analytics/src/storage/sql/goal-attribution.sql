-- Goal conversions in a window, each credited to the touches of the same person before it (all
-- their linked ids, within the lookback) by channel and campaign: first touch, last touch and
-- linear (1/n each). A conversion with no touch before it is credited to its own channel and
-- campaign. A touch is any page, screen or track event (identify and alias are not touches);
-- events that reach other goals (an e-mail click, say) are touches too.
-- params: program String, since DateTime64(3), until DateTime64(3), lookback_days UInt32
WITH
    links AS ({{person-links}}),
    -- An event belongs to its id (the user id, else the anonymous id) and that id to the patient it
    -- is linked to: an alias's previous id is often an old user id, whose events are the patient's
    -- too (as in the profile).
    touches AS (
        SELECT if(l.linked_user != '', l.linked_user, if(e.user_id != '', e.user_id, e.anonymous_id)) AS person,
               e.ts AS ts, e.received_at AS received_at, toString(e.channel) AS channel, toString(e.utm_campaign) AS campaign, e.goal_ids AS goals, toString(e.type) AS type
        FROM events AS e
        LEFT JOIN links AS l ON l.anonymous_id = if(e.user_id != '', e.user_id, e.anonymous_id)
        WHERE e.program = {program:String} AND e.is_bot = 0
          AND e.ts <= {until:DateTime64(3)} AND e.ts >= {since:DateTime64(3)} - toIntervalDay({lookback_days:UInt32})
    ),
    paths AS (
        SELECT person, arraySort(x -> (x.1, x.2), groupArray((ts, received_at, channel, campaign, goals, type))) AS path
        FROM touches
        GROUP BY person
    ),
    conversions AS (
        SELECT person, goal, c.1 AS conv_ts, c.3 AS conv_channel, c.4 AS conv_campaign,
               arrayFilter(x -> x.6 IN ('page', 'screen', 'track') AND x.1 < c.1 AND x.1 >= c.1 - toIntervalDay({lookback_days:UInt32}), path) AS prior
        FROM paths
        ARRAY JOIN path AS c
        ARRAY JOIN c.5 AS goal
        WHERE c.1 >= {since:DateTime64(3)}
    )
SELECT goal, model, channel, campaign, sum(credit) AS conversions
FROM
(
    SELECT goal, 'first_touch' AS model, if(length(prior) > 0, prior[1].3, conv_channel) AS channel, if(length(prior) > 0, prior[1].4, conv_campaign) AS campaign, 1.0 AS credit FROM conversions
    UNION ALL
    SELECT goal, 'last_touch' AS model, if(length(prior) > 0, prior[-1].3, conv_channel) AS channel, if(length(prior) > 0, prior[-1].4, conv_campaign) AS campaign, 1.0 AS credit FROM conversions
    UNION ALL
    SELECT goal, 'linear' AS model, p.3 AS channel, p.4 AS campaign, 1.0 / length(prior) AS credit FROM conversions ARRAY JOIN prior AS p
    UNION ALL
    SELECT goal, 'linear' AS model, conv_channel AS channel, conv_campaign AS campaign, 1.0 AS credit FROM conversions WHERE length(prior) = 0
)
GROUP BY goal, model, channel, campaign
ORDER BY goal, model, conversions DESC, channel, campaign
