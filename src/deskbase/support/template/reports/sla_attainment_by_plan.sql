-- SLA attainment by plan: clocks that completed between `start` and `end`, per metric, priority and the plan of the ticket's customer (submitted_by; empty when none), met, breached and the share met; deleted tickets are left out.
WITH
  done AS (
    SELECT ticket_id, metric, priority, state
    FROM sla_instances FINAL
    WHERE workspace_id = {workspace_id:String}
      AND deleted = false
      AND state IN ('achieved', 'breached')
      AND completed_at >= parseDateTime64BestEffort({start:String}, 3, 'UTC')
      AND completed_at < parseDateTime64BestEffort({end:String}, 3, 'UTC')
  ),
  plans AS (
    SELECT r.source_id AS ticket_id, any(c.data.plan.:String) AS plan
    FROM relationships AS r FINAL
    JOIN records AS c FINAL ON c.id = r.target_id
    WHERE r.workspace_id = {workspace_id:String} AND r.rel_type = 'submitted_by' AND r.deleted = false
      AND r.source_id IN (SELECT ticket_id FROM done)
      AND c.workspace_id = {workspace_id:String} AND c.collection = 'customers' AND c.deleted = false
    GROUP BY ticket_id
  )
SELECT
  i.metric AS metric,
  i.priority AS priority,
  coalesce(p.plan, '') AS plan,
  count() AS total,
  countIf(i.state = 'achieved') AS achieved,
  countIf(i.state = 'breached') AS breached,
  round(achieved / total, 4) AS attainment
FROM done AS i
LEFT JOIN plans AS p ON p.ticket_id = i.ticket_id
WHERE i.ticket_id IN (
  SELECT id FROM records FINAL
  WHERE workspace_id = {workspace_id:String} AND collection = 'tickets' AND deleted = false
    AND id IN (SELECT ticket_id FROM done)
)
GROUP BY metric, priority, plan
ORDER BY metric, priority, plan
