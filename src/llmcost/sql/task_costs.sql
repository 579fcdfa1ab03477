-- task_costs: one row per task of the window. A task is a task_id; a request without one is its
-- own one-step task. Steps are ordered by `step` (none: 0), then by time; a task's feature is that
-- of its first request that names one (NULL when none does), and it is successful when its last
-- request has status 'ok'.
--
-- Units: cost_usd USD, exact DECIMAL(38,24), the sum over the task's priced requests (NULL when
-- none is priced); steps requests; *_input_tokens the input tokens of the first and last step.
WITH steps AS (
    SELECT task_id,
           feature,
           status,
           input_tokens,
           cost_usd,
           ROW_NUMBER() OVER (PARTITION BY task_id ORDER BY COALESCE(step, 0) ASC, ts ASC) AS from_first,
           ROW_NUMBER() OVER (PARTITION BY task_id
                              ORDER BY CASE WHEN feature IS NULL THEN 1 ELSE 0 END, COALESCE(step, 0) ASC, ts ASC)
               AS named_first,
           ROW_NUMBER() OVER (PARTITION BY task_id ORDER BY COALESCE(step, 0) DESC, ts DESC) AS from_last
    FROM priced_requests
    WHERE task_id IS NOT NULL
)
SELECT task_id,
       MAX(CASE WHEN named_first = 1 THEN feature END) AS feature,
       COUNT(*) AS steps,
       SUM(cost_usd) AS cost_usd,
       MAX(CASE WHEN from_last = 1 THEN status END) = 'ok' AS successful,
       MAX(CASE WHEN from_first = 1 THEN input_tokens END) AS first_input_tokens,
       MAX(CASE WHEN from_last = 1 THEN input_tokens END) AS last_input_tokens
FROM steps
GROUP BY task_id
UNION ALL
SELECT NULL AS task_id,
       feature,
       1 AS steps,
       cost_usd,
       status = 'ok' AS successful,
       input_tokens AS first_input_tokens,
       input_tokens AS last_input_tokens
FROM priced_requests
WHERE task_id IS NULL
