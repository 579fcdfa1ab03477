-- task_metrics: the task table (the summary's `tasks`; docs/report.md, "Per task"): one row per
-- feature (of a task's first request) and one for all tasks (feature '(all)', is_total 1), whose
-- percentiles are SPEC §8's `distribution.cost_per_task_usd`.
--
-- Units: cost_usd USD, exact DECIMAL(38,24), the sum of task costs; the other *_usd USD (DOUBLE):
-- cost_per_task_usd over tasks with a priced request, cost_per_successful_task_usd the cost of ALL
-- tasks over the successful ones (failed work is paid for by the successes); p50/p90/p99_task_usd
-- percentiles of task cost; success_pct percent; mean_steps requests per task; over tasks of two
-- steps or more: context_growth_ratio last step's input tokens / first step's, and
-- context_growth_tokens_per_step (last - first input tokens) / (steps - 1).
SELECT CASE WHEN GROUPING(feature) = 1 THEN '(all)' ELSE feature END AS feature,
       GROUPING(feature) AS is_total,
       COUNT(*) AS tasks,
       SUM(CASE WHEN successful THEN 1 ELSE 0 END) AS successful,
       CAST(SUM(CASE WHEN successful THEN 1 ELSE 0 END) AS DOUBLE) / COUNT(*) * 100 AS success_pct,
       SUM(cost_usd) AS cost_usd,
       CAST(SUM(cost_usd) AS DOUBLE) / NULLIF(COUNT(cost_usd), 0) AS cost_per_task_usd,
       CAST(SUM(cost_usd) AS DOUBLE)
           / NULLIF(SUM(CASE WHEN successful THEN 1 ELSE 0 END), 0) AS cost_per_successful_task_usd,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY CAST(cost_usd AS DOUBLE)) AS p50_task_usd,
       percentile_cont(0.9) WITHIN GROUP (ORDER BY CAST(cost_usd AS DOUBLE)) AS p90_task_usd,
       percentile_cont(0.99) WITHIN GROUP (ORDER BY CAST(cost_usd AS DOUBLE)) AS p99_task_usd,
       AVG(CAST(steps AS DOUBLE)) AS mean_steps,
       AVG(CASE WHEN steps > 1
                THEN CAST(last_input_tokens AS DOUBLE) / NULLIF(first_input_tokens, 0) END) AS context_growth_ratio,
       AVG(CASE WHEN steps > 1
                THEN CAST(last_input_tokens - first_input_tokens AS DOUBLE) / (steps - 1) END)
           AS context_growth_tokens_per_step
FROM task_costs
GROUP BY GROUPING SETS ((feature), ())
