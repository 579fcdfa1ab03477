-- period_totals: the totals of the report's window in one row (SPEC §8 `totals`, `coverage`) and
-- the unit-economics summary's metrics over it (docs/report.md, "Unit-economics summary"; the
-- summary runs this once over its window and once over the previous window).
--
-- Units: cost_usd USD, exact DECIMAL(38,24) (NULL when no request is priced); revenue_usd and the
-- other *_usd USD as DOUBLE; *_pct percent (0-100); counts are integers. revenue_usd is every
-- customer-month's revenue in the window, customers without requests included; NULL (and the
-- margins with it) when no revenue overlaps the window. In the margins an unknown cost counts as 0.
-- logged_usd (DOUBLE) and computed_usd (exact DECIMAL) are over the priced requests that carry a
-- logged cost (coverage.logged_cost); drift_pct percent of the logged cost.
WITH t AS (
    SELECT COUNT(*) AS requests,
           COUNT(cost_usd) AS priced,
           COUNT(DISTINCT task_id) + SUM(CASE WHEN task_id IS NULL THEN 1 ELSE 0 END) AS tasks,
           COUNT(DISTINCT user_id) AS users,
           COUNT(DISTINCT customer_id) AS customers,
           SUM(cost_usd) AS cost_usd,
           SUM(CASE WHEN cache_hit THEN 1 ELSE 0 END) AS semantic_cache_hits,
           -- prompt-cache reads over the input sent to the provider (semantic hits were not sent)
           SUM(CASE WHEN NOT cache_hit THEN cache_read_tokens END) AS provider_cache_read_tokens,
           SUM(CASE WHEN NOT cache_hit THEN input_tokens END) AS provider_input_tokens,
           SUM(CASE WHEN tier = 'small' THEN 1 ELSE 0 END) AS small_model_requests,
           SUM(CASE WHEN tier = 'mid' THEN 1 ELSE 0 END) AS mid_model_requests,
           -- the logged-cost drift, over the priced requests that carry a logged cost
           SUM(CASE WHEN cost_usd IS NOT NULL AND logged_cost_usd IS NOT NULL THEN 1 ELSE 0 END)
               AS logged_requests,
           SUM(CASE WHEN cost_usd IS NOT NULL THEN logged_cost_usd END) AS logged_usd,
           SUM(CASE WHEN logged_cost_usd IS NOT NULL THEN cost_usd END) AS computed_usd
    FROM priced_requests
),
r AS (
    SELECT SUM(revenue_usd) AS revenue_usd FROM customer_month_revenue
),
c AS (
    SELECT t.*, r.revenue_usd, CAST(COALESCE(t.cost_usd, 0) AS DOUBLE) AS known_cost_usd
    FROM t CROSS JOIN r
)
SELECT requests,
       priced,
       requests - priced AS unpriced,
       tasks,
       users AS active_users,
       customers,
       cost_usd,
       CAST(cost_usd AS DOUBLE) / NULLIF(users, 0) AS cost_per_active_user_usd,
       revenue_usd,
       revenue_usd - known_cost_usd AS margin_usd,
       (revenue_usd - known_cost_usd) / NULLIF(revenue_usd, 0) * 100 AS margin_pct,
       known_cost_usd / NULLIF(revenue_usd, 0) * 100 AS cost_pct_of_revenue,
       CAST(semantic_cache_hits AS DOUBLE) / NULLIF(requests, 0) * 100 AS semantic_cache_hit_rate_pct,
       CAST(provider_cache_read_tokens AS DOUBLE) / NULLIF(provider_input_tokens, 0) * 100 AS prompt_cache_hit_rate_pct,
       CAST(small_model_requests AS DOUBLE) / NULLIF(requests, 0) * 100 AS small_model_share_pct,
       CAST(mid_model_requests AS DOUBLE) / NULLIF(requests, 0) * 100 AS mid_model_share_pct,
       logged_requests,
       logged_usd,
       computed_usd,
       CAST(COALESCE(computed_usd, 0) AS DOUBLE) - logged_usd AS drift_usd,
       (CAST(COALESCE(computed_usd, 0) AS DOUBLE) - logged_usd) / NULLIF(logged_usd, 0) * 100 AS drift_pct
FROM c
