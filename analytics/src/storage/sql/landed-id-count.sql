-- How many message ids have landed (every program; duplicates within unmerged parts counted, an upper bound).
SELECT count() AS n
FROM event_ids
