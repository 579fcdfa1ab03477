-- request_revenue: priced_requests with the revenue each request is allocated (SPEC §6, the
-- report's --allocate), within each customer-month of the window (over all its requests there):
--   revenue_by_requests_usd  `requests` (the default): the customer-month's revenue split equally
--                            over its requests;
--   revenue_by_cost_usd      `cost`: split in proportion to each request's cost (an unpriced request
--                            gets none), by requests when the customer-month has no priced cost;
--   revenue_equal_usd        `equal`: split equally between the features the customer used that
--                            month (no feature counts as one), then over that feature's requests.
-- allocated_revenue_usd is the report's rule ({allocation}). A group's allocated revenue (a
-- feature, a user, any --by group) is the sum over its requests: for `requests`, the revenue x
-- (the group's requests / the customer-month's), summed over its customer-months. Revenue of a
-- customer-month without requests is allocated to no request.
--
-- Units: USD (DOUBLE); NULL for a request whose customer-month has no revenue row.
WITH features AS (
    SELECT customer_id, month, COUNT(*) AS features
    FROM (SELECT DISTINCT customer_id, month, feature FROM priced_requests) f
    GROUP BY customer_id, month
),
shares AS (
    SELECT p.*,
           r.revenue_usd AS customer_month_revenue_usd,
           COUNT(*) OVER (PARTITION BY p.customer_id, p.month) AS customer_month_requests,
           SUM(CAST(p.cost_usd AS DOUBLE)) OVER (PARTITION BY p.customer_id, p.month)
               AS customer_month_cost_usd,
           COUNT(*) OVER (PARTITION BY p.customer_id, p.month, p.feature) AS feature_month_requests,
           f.features AS customer_month_features
    FROM priced_requests p
    LEFT JOIN customer_month_revenue r ON r.customer_id = p.customer_id AND r.month = p.month
    LEFT JOIN features f ON f.customer_id = p.customer_id AND f.month = p.month
),
allocations AS (
    SELECT s.*,
           customer_month_revenue_usd / customer_month_requests AS revenue_by_requests_usd,
           CASE WHEN customer_month_cost_usd > 0
                THEN customer_month_revenue_usd * COALESCE(CAST(cost_usd AS DOUBLE), 0)
                     / customer_month_cost_usd
                ELSE customer_month_revenue_usd / customer_month_requests END AS revenue_by_cost_usd,
           customer_month_revenue_usd / customer_month_features / feature_month_requests
               AS revenue_equal_usd
    FROM shares s
)
SELECT a.*,
       CASE '{allocation}'
            WHEN 'cost' THEN revenue_by_cost_usd
            WHEN 'equal' THEN revenue_equal_usd
            ELSE revenue_by_requests_usd END AS allocated_revenue_usd
FROM allocations a
