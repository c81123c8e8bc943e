-- Tickets created vs solved: per day (in time zone `tz`) from `start` up to `end` (exclusive; at most 400 days), tickets created, solved (set to resolved or closed, again after each reopen) and reopened, and the backlog (open, in progress or waiting) at the end of each day; deleted tickets are left out.
WITH
  parseDateTime64BestEffort({start:String}, 3, 'UTC') AS period_start,
  parseDateTime64BestEffort({end:String}, 3, 'UTC') AS period_end,
  toDate(period_start, {tz:String}) AS first_day,
  -- The SLA metrics (ticket_metrics) tell a ticket's story unless it was reopened or created already solved
  -- (no solve recorded, awaiting nobody, not deleted): those replay their status changes from the change log.
  states AS (
    SELECT entity_id, seq, at, max(deleted) OVER (PARTITION BY entity_id) AS gone,
      multiIf(status IN ('open', 'in_progress', 'waiting'), 1, status IN ('resolved', 'closed'), 2, 0) AS state
    FROM (
      SELECT entity_id, seq, at, JSONExtractString(data, 'data', 'status') AS status,
        JSONExtractBool(data, 'deleted') AS deleted
      FROM operations_log
      WHERE workspace_id = {workspace_id:String} AND entity = 'record' AND collection = 'tickets'
        AND entity_id IN (SELECT ticket_id FROM ticket_metrics FINAL
                          WHERE workspace_id = {workspace_id:String}
                            AND (reopens > 0 OR (first_resolved_at IS NULL AND awaiting IS NULL)))
    )
  ),
  -- A ticket's first version counts as a change from open: its creation already counted as opening it.
  changes AS (
    SELECT at, state, lagInFrame(state, 1, 1) OVER (PARTITION BY entity_id ORDER BY seq) AS prev
    FROM states
    WHERE gone = 0
  ),
  events AS (
    -- every live ticket is created, and counted open from then on …
    SELECT created_at AS at, toInt8(1) AS backlog_change, 1 AS created, 0 AS solved, 0 AS reopened
    FROM records FINAL
    WHERE workspace_id = {workspace_id:String} AND collection = 'tickets' AND deleted = false
    UNION ALL
    -- … a ticket never reopened and solved now was solved once, at first_resolved_at (a deleted ticket has
    -- no resolved_at) …
    SELECT assumeNotNull(first_resolved_at), toInt8(-1), 0, 1, 0
    FROM ticket_metrics FINAL
    WHERE workspace_id = {workspace_id:String} AND reopens = 0 AND resolved_at IS NOT NULL
    UNION ALL
    -- … and the others change as their history says
    SELECT at, toInt8(state = 1) - toInt8(prev = 1), 0, toUInt8(state = 2), toUInt8(state = 1 AND prev = 2)
    FROM changes
    WHERE state != prev
  ),
  by_day AS (
    SELECT if(at < period_start, toDate('1970-01-01'), toDate(at, {tz:String})) AS day,
      sum(backlog_change) AS net, sum(created) AS created, sum(solved) AS solved, sum(reopened) AS reopened
    FROM events
    WHERE at < period_end
    GROUP BY day
  ),
  days AS (
    SELECT if(number = 0, toDate('1970-01-01'), first_day + (number - 1)) AS day
    FROM numbers(400)
    WHERE number <= dateDiff('day', first_day, toDate(period_end - toIntervalMillisecond(1), {tz:String})) + 1
  )
SELECT day, created, solved, reopened, backlog
FROM (
  SELECT d.day AS day, b.created AS created, b.solved AS solved, b.reopened AS reopened,
    sum(b.net) OVER (ORDER BY d.day ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS backlog
  FROM days AS d
  LEFT JOIN by_day AS b ON b.day = d.day
)
WHERE day >= first_day
ORDER BY day
