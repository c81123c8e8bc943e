-- First response times: tickets whose first agent reply came between `start` and `end`, by the time it took (`clock` = 'business' for business hours, 'calendar' for elapsed time) in buckets from `from_seconds` up to `to_seconds`, with the count, median and 90th percentile (seconds) of all of them; deleted tickets are left out.
WITH [0, 900, 1800, 3600, 7200, 14400, 28800, 86400, 172800] AS edges
SELECT
  bucket,
  edges[bucket] AS from_seconds,
  if(bucket < length(edges), edges[bucket + 1], NULL) AS to_seconds,
  tickets,
  total,
  round(median_seconds) AS median_seconds,
  round(p90_seconds) AS p90_seconds
FROM (
  SELECT
    count() AS total,
    quantileExactInclusive(0.5)(seconds) AS median_seconds,
    quantileExactInclusive(0.9)(seconds) AS p90_seconds,
    sumForEach(arrayMap(i -> toUInt64(i = countEqual(arrayMap(e -> seconds >= e, edges), 1)), arrayEnumerate(edges))) AS per_bucket
  FROM (
    SELECT assumeNotNull(if({clock:String} = 'business', first_response_seconds_business,
                            first_response_seconds_calendar)) AS seconds
    FROM ticket_metrics FINAL
    WHERE workspace_id = {workspace_id:String}
      AND first_response_at >= parseDateTime64BestEffort({start:String}, 3, 'UTC')
      AND first_response_at < parseDateTime64BestEffort({end:String}, 3, 'UTC')
      AND if({clock:String} = 'business', first_response_seconds_business, first_response_seconds_calendar) IS NOT NULL
      AND ticket_id IN (
        SELECT id FROM records FINAL
        WHERE workspace_id = {workspace_id:String} AND collection = 'tickets' AND deleted = false
          AND id IN (SELECT ticket_id FROM ticket_metrics FINAL
                     WHERE workspace_id = {workspace_id:String}
                       AND first_response_at >= parseDateTime64BestEffort({start:String}, 3, 'UTC')
                       AND first_response_at < parseDateTime64BestEffort({end:String}, 3, 'UTC'))
      )
  )
)
ARRAY JOIN per_bucket AS tickets, arrayEnumerate(per_bucket) AS bucket
ORDER BY bucket
