-- Programs with landed message ids (the writer's filter is filled program by program).
SELECT DISTINCT program FROM event_ids
