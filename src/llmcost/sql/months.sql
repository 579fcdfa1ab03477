-- months: the summary's per-month view (`months`): each UTC calendar month of the window with
-- requests, its cost, active users and their cost distribution, its revenue and margin.
--
-- Units: cost_usd USD, exact DECIMAL(38,24); the other *_usd USD (DOUBLE); margin_pct percent.
-- active_users: users with a request that month (priced or not); p50/p90/p99_user_usd
-- percentiles of that month's priced user-month costs. revenue_usd: the month's revenue in the
-- window, every customer's (NULL when no revenue overlaps the window; 0 for a month without).
WITH m AS (
    SELECT month, COUNT(*) AS requests, SUM(cost_usd) AS cost_usd
    FROM priced_requests
    GROUP BY month
),
u AS (
    SELECT month,
           COUNT(*) AS active_users,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY CAST(cost_usd AS DOUBLE)) AS p50_user_usd,
           percentile_cont(0.9) WITHIN GROUP (ORDER BY CAST(cost_usd AS DOUBLE)) AS p90_user_usd,
           percentile_cont(0.99) WITHIN GROUP (ORDER BY CAST(cost_usd AS DOUBLE)) AS p99_user_usd
    FROM user_month_costs
    GROUP BY month
),
r AS (
    SELECT month, SUM(revenue_usd) AS revenue_usd
    FROM customer_month_revenue
    GROUP BY month
),
revenue_loaded AS (
    SELECT COUNT(*) > 0 AS loaded FROM customer_month_revenue
),
joined AS (
    SELECT m.month,
           m.requests,
           m.cost_usd,
           COALESCE(u.active_users, 0) AS active_users,
           u.p50_user_usd,
           u.p90_user_usd,
           u.p99_user_usd,
           CASE WHEN l.loaded THEN COALESCE(r.revenue_usd, 0) END AS revenue_usd
    FROM m
    LEFT JOIN u ON u.month = m.month
    LEFT JOIN r ON r.month = m.month
    CROSS JOIN revenue_loaded l
)
SELECT month,
       requests,
       cost_usd,
       active_users,
       CAST(cost_usd AS DOUBLE) / NULLIF(active_users, 0) AS cost_per_active_user_usd,
       p50_user_usd,
       p90_user_usd,
       p99_user_usd,
       revenue_usd,
       revenue_usd - CAST(cost_usd AS DOUBLE) AS margin_usd,
       (revenue_usd - CAST(cost_usd AS DOUBLE)) / NULLIF(revenue_usd, 0) * 100 AS margin_pct
FROM joined
