-- customers: each customer over the window (the summary's `customers`; the revenue of
-- `--by customer`): its requests, users and cost, and its WHOLE revenue in the window, the
-- customer-months without a request included (a customer with revenue but no request has a row
-- with 0 requests). under_water: cost above revenue (no revenue counts 0).
--
-- Units: cost_usd USD, exact DECIMAL(38,24) (NULL when none of its requests is priced); the other
-- *_usd USD (DOUBLE); *_pct percent. Revenue and margins are NULL when no revenue overlaps the
-- window; margins are NULL when the customer has requests and none is priced.
WITH c AS (
    SELECT customer_id,
           COUNT(*) AS requests,
           COUNT(DISTINCT user_id) AS users,
           SUM(cost_usd) AS cost_usd
    FROM priced_requests
    WHERE customer_id IS NOT NULL
    GROUP BY customer_id
),
r AS (
    SELECT customer_id, SUM(revenue_usd) AS revenue_usd
    FROM customer_month_revenue
    GROUP BY customer_id
),
revenue_loaded AS (
    SELECT COUNT(*) > 0 AS loaded FROM customer_month_revenue
),
joined AS (
    SELECT COALESCE(c.customer_id, r.customer_id) AS customer_id,
           COALESCE(c.requests, 0) AS requests,
           COALESCE(c.users, 0) AS users,
           c.cost_usd,
           CASE WHEN c.cost_usd IS NULL AND c.requests > 0 THEN NULL
                ELSE CAST(COALESCE(c.cost_usd, 0) AS DOUBLE) END AS known_cost_usd,
           CASE WHEN l.loaded THEN COALESCE(r.revenue_usd, 0) END AS revenue_usd
    FROM c
    FULL OUTER JOIN r ON r.customer_id = c.customer_id
    CROSS JOIN revenue_loaded l
)
SELECT customer_id,
       requests,
       users,
       cost_usd,
       revenue_usd,
       revenue_usd - known_cost_usd AS margin_usd,
       (revenue_usd - known_cost_usd) / NULLIF(revenue_usd, 0) * 100 AS margin_pct,
       known_cost_usd / NULLIF(revenue_usd, 0) * 100 AS cost_pct_of_revenue,
       CAST(COALESCE(cost_usd, 0) AS DOUBLE) > COALESCE(revenue_usd, 0) AS under_water
FROM joined
