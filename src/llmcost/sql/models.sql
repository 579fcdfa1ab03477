-- models: the summary's model mix (`models`): each model name as logged, with its tier, its share
-- of requests and of cost, whether every request of it is priced, and its logged-cost drift: over
-- its priced requests that carry a logged cost, the cost the logger wrote against the computed one.
--
-- Units: cost_usd and computed_usd USD, exact DECIMAL(38,24) (NULL when none is priced);
-- logged_usd USD (DOUBLE); requests_pct, share_pct and drift_pct percent (drift: computed over
-- logged - 1, x 100; NULL without a logged cost).
WITH m AS (
    SELECT model,
           MIN(tier) AS tier,
           COUNT(*) AS requests,
           SUM(cost_usd) AS cost_usd,
           MIN(CASE WHEN cost_usd IS NULL THEN 0 ELSE 1 END) = 1 AS priced,
           SUM(CASE WHEN cost_usd IS NOT NULL THEN logged_cost_usd END) AS logged_usd,
           SUM(CASE WHEN logged_cost_usd IS NOT NULL THEN cost_usd END) AS computed_usd
    FROM priced_requests
    GROUP BY model
),
total AS (
    SELECT COUNT(*) AS requests, SUM(cost_usd) AS cost_usd FROM priced_requests
)
SELECT m.model,
       m.tier,
       m.requests,
       CAST(m.requests AS DOUBLE) / NULLIF(t.requests, 0) * 100 AS requests_pct,
       m.cost_usd,
       CAST(m.cost_usd AS DOUBLE) / NULLIF(CAST(t.cost_usd AS DOUBLE), 0) * 100 AS share_pct,
       m.priced,
       m.logged_usd,
       m.computed_usd,
       (CAST(COALESCE(m.computed_usd, 0) AS DOUBLE) - m.logged_usd) / NULLIF(m.logged_usd, 0) * 100
           AS drift_pct
FROM m
CROSS JOIN total t
