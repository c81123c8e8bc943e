-- Tickets by weekday and hour: tickets created between `start` and `end`, by weekday (1 = Monday … 7 = Sunday) and hour of the day (0–23) in time zone `tz`; deleted tickets are left out.
SELECT
  toDayOfWeek(created_at, 0, {tz:String}) AS weekday,
  toHour(toTimeZone(created_at, {tz:String})) AS hour,
  count() AS tickets
FROM records FINAL
WHERE workspace_id = {workspace_id:String}
  AND collection = 'tickets'
  AND deleted = false
  AND created_at >= parseDateTime64BestEffort({start:String}, 3, 'UTC')
  AND created_at < parseDateTime64BestEffort({end:String}, 3, 'UTC')
GROUP BY weekday, hour
ORDER BY weekday, hour
