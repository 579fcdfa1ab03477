-- priced_requests: every request of the report's window with its point-in-time cost. The one input
-- relation of the metric definitions (with customer_month_revenue); one row per request.
--
-- Read from `priced_in_window`, which the loader (llmcost.definitions) builds with the engine's own
-- SQL: pricing's join of each request to the price version in force at its timestamp
-- (llmcost.pricing.priced_view_sql, SPEC §4), kept to the window [since, until), plus the report's
-- --by keys as llmcost.query.DIMENSIONS computes them (group_1, group_2, ...).
-- {group_columns}: ", group_1, group_2, ..." for a --by report; empty for the summary.
--
-- Units: cost_usd USD, an exact DECIMAL(38,24): the list cost of the tokens, x (1 - batch
-- discount) for a batch request, 0 for a semantic-cache hit, NULL when the model has no price at
-- the request's time (unpriced). Tokens are counts; latency_ms milliseconds (NULL when not
-- logged); month the first day of the request's UTC calendar month; logged_cost_usd USD (DOUBLE),
-- the cost the logger wrote, NULL when it wrote none (compared, never used as the cost).
SELECT request_id,
       ts,
       CAST(date_trunc('month', ts) AS DATE) AS month,
       user_id,
       customer_id,
       feature,
       model,
       tier,
       plan,
       status,
       task_id,
       step,
       input_tokens,
       output_tokens,
       cache_read_tokens,
       cache_hit,
       latency_ms,
       logged_cost_usd,
       cost_usd{group_columns}
FROM priced_in_window
