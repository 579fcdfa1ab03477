-- user_costs: each user's total over the window (requests without a user_id are no user's).
--
-- Units: cost_usd USD, exact DECIMAL(38,24) (NULL when none of the user's requests is priced);
-- revenue_usd USD (DOUBLE), the revenue allocated to the user's requests (request_revenue), 0
-- when none is; customer_id the user's customer (the smallest id when a user has several).
SELECT user_id,
       MIN(customer_id) AS customer_id,
       COUNT(*) AS requests,
       SUM(cost_usd) AS cost_usd,
       COALESCE(SUM(allocated_revenue_usd), 0) AS revenue_usd
FROM request_revenue
WHERE user_id IS NOT NULL
GROUP BY user_id
