-- report_rows: one row per group of `llmcost report --by ...` (the `rows` of SPEC §8; formulas in
-- docs/report.md, "Per request" and "Revenue and margin").
-- {group_keys}: the --by keys, "group_1, group_2, ..." in the order given.
--
-- Units: cost_usd USD, exact DECIMAL(38,24) (the sum of the priced requests' costs; NULL when
-- none is priced); every other *_usd USD as DOUBLE; *_pct percent (0-100); latency_*_ms
-- milliseconds; output_input_ratio output tokens per input token; counts are integers.
-- Percentiles interpolate linearly between order statistics; unpriced requests are counted in
-- `requests` and `unpriced` and left out of every cost, mean and percentile.
-- Revenue is allocated by requests (request_revenue); revenue_usd and the margins are NULL when no
-- revenue overlaps the window, and the margins are NULL when the group's cost is unknown.
WITH group_totals AS (
    SELECT {group_keys},
           COUNT(*) AS requests,
           COUNT(cost_usd) AS priced_requests,
           SUM(cost_usd) AS cost_usd,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY CAST(cost_usd AS DOUBLE)) AS p50_request_usd,
           percentile_cont(0.9) WITHIN GROUP (ORDER BY CAST(cost_usd AS DOUBLE)) AS p90_request_usd,
           percentile_cont(0.99) WITHIN GROUP (ORDER BY CAST(cost_usd AS DOUBLE)) AS p99_request_usd,
           SUM(output_tokens) AS output_tokens,
           SUM(input_tokens) AS input_tokens,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY CAST(latency_ms AS DOUBLE)) AS latency_p50_ms,
           percentile_cont(0.9) WITHIN GROUP (ORDER BY CAST(latency_ms AS DOUBLE)) AS latency_p90_ms,
           COUNT(DISTINCT user_id) AS users,
           -- a request without task_id is its own task
           COUNT(DISTINCT task_id) + SUM(CASE WHEN task_id IS NULL THEN 1 ELSE 0 END) AS tasks,
           SUM(CASE WHEN cache_hit THEN 1 ELSE 0 END) AS semantic_cache_hits,
           SUM(allocated_revenue_usd) AS allocated_revenue_usd
    FROM request_revenue
    GROUP BY {group_keys}
),
total AS (
    SELECT SUM(cost_usd) AS cost_usd FROM priced_requests
),
revenue_loaded AS (
    SELECT COUNT(*) > 0 AS loaded FROM customer_month_revenue
),
with_revenue AS (
    SELECT g.*,
           CAST(g.cost_usd AS DOUBLE) AS cost_double_usd,
           CAST(t.cost_usd AS DOUBLE) AS total_cost_usd,
           CASE WHEN l.loaded THEN COALESCE(g.allocated_revenue_usd, 0) END AS revenue_usd
    FROM group_totals g
    CROSS JOIN total t
    CROSS JOIN revenue_loaded l
)
SELECT {group_keys},
       requests,
       cost_usd,
       cost_double_usd / NULLIF(priced_requests, 0) AS cost_per_request_usd,
       p50_request_usd,
       p90_request_usd,
       p99_request_usd,
       cost_double_usd / NULLIF(total_cost_usd, 0) * 100 AS share_pct,
       CAST(output_tokens AS DOUBLE) / NULLIF(input_tokens, 0) AS output_input_ratio,
       latency_p50_ms,
       latency_p90_ms,
       users,
       tasks,
       CAST(semantic_cache_hits AS DOUBLE) / requests * 100 AS cache_hit_pct,
       requests - priced_requests AS unpriced,
       revenue_usd,
       revenue_usd - cost_double_usd AS margin_usd,
       (revenue_usd - cost_double_usd) / NULLIF(revenue_usd, 0) * 100 AS margin_pct,
       cost_double_usd / NULLIF(revenue_usd, 0) * 100 AS cost_pct_of_revenue
FROM with_revenue
