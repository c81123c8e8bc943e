-- SLA attainment: clocks that completed in a period, per metric and priority: met, breached and the share met.
SELECT
  metric,
  priority,
  count() AS total,
  countIf(state = 'achieved') AS achieved,
  countIf(state = 'breached') AS breached,
  round(achieved / total, 4) AS attainment
FROM sla_instances FINAL
WHERE workspace_id = {workspace_id:String}
  AND deleted = false
  AND state IN ('achieved', 'breached')
  AND completed_at >= parseDateTime64BestEffort({start:String}, 3, 'UTC')
  AND completed_at < parseDateTime64BestEffort({end:String}, 3, 'UTC')
GROUP BY metric, priority
ORDER BY metric, priority
