-- top20_customers: the summary's `top20_customers_cost_pct_of_revenue` in one row: the top 20 % of
-- customers by cost (the ceil(0.2 n) costliest of the n customers with a priced request, at least
-- one; ties by customer id) and their cost as a share of their own revenue in the window.
--
-- Units: cost_usd USD, exact DECIMAL(38,24); revenue_usd USD (DOUBLE; a customer without revenue
-- counts 0); cost_pct_of_revenue percent (NULL when their revenue is 0).
WITH customer_costs AS (
    SELECT customer_id, SUM(cost_usd) AS cost_usd
    FROM priced_requests
    WHERE customer_id IS NOT NULL
    GROUP BY customer_id
    HAVING COUNT(cost_usd) > 0
),
ranked AS (
    SELECT customer_id,
           cost_usd,
           ROW_NUMBER() OVER (ORDER BY cost_usd DESC, customer_id ASC) AS cost_rank,
           COUNT(*) OVER () AS customers
    FROM customer_costs
),
customer_revenue AS (
    SELECT customer_id, SUM(revenue_usd) AS revenue_usd
    FROM customer_month_revenue
    GROUP BY customer_id
),
top_customers AS (
    SELECT k.customer_id, k.cost_usd, COALESCE(rv.revenue_usd, 0) AS revenue_usd
    FROM ranked k
    LEFT JOIN customer_revenue rv ON rv.customer_id = k.customer_id
    WHERE k.cost_rank <= GREATEST(1, CEIL(k.customers * 0.2))
)
SELECT COUNT(*) AS customers,
       SUM(cost_usd) AS cost_usd,
       SUM(revenue_usd) AS revenue_usd,
       CAST(SUM(cost_usd) AS DOUBLE) / NULLIF(SUM(revenue_usd), 0) * 100 AS cost_pct_of_revenue
FROM top_customers
