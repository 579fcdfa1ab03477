-- p90_users: the users whose total cost in the window reaches the P90 of user totals
-- (user_distribution.p90_user_usd), costliest first, with their customer and the revenue
-- allocated to their requests (the summary's `p90_users`).
--
-- Units: *_usd USD (cost_usd exact DECIMAL(38,24), the rest DOUBLE); *_pct percent.
SELECT u.user_id,
       u.customer_id,
       u.requests,
       u.cost_usd,
       u.revenue_usd,
       u.revenue_usd - CAST(u.cost_usd AS DOUBLE) AS margin_usd,
       (u.revenue_usd - CAST(u.cost_usd AS DOUBLE)) / NULLIF(u.revenue_usd, 0) * 100 AS margin_pct,
       CAST(u.cost_usd AS DOUBLE) / NULLIF(u.revenue_usd, 0) * 100 AS cost_pct_of_revenue
FROM user_costs u
CROSS JOIN user_distribution d
WHERE CAST(u.cost_usd AS DOUBLE) >= d.p90_user_usd
