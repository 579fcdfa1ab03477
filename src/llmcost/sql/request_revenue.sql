-- request_revenue: priced_requests with the revenue each request is allocated by the `requests`
-- rule (SPEC §6, the default --allocate): a customer-month's revenue split equally over that
-- customer's requests of that month in the window. A group's allocated revenue (a feature, a
-- user, any --by group) is the sum over its requests, which is the customer-month's revenue x
-- (the group's requests / the customer-month's requests), summed over its customer-months.
-- Revenue of a customer-month without requests is allocated to no request.
--
-- Units: allocated_revenue_usd USD (DOUBLE); NULL for a request whose customer-month has no
-- revenue row.
SELECT p.*,
       r.revenue_usd / COUNT(*) OVER (PARTITION BY p.customer_id, p.month) AS allocated_revenue_usd
FROM priced_requests p
LEFT JOIN customer_month_revenue r
       ON r.customer_id = p.customer_id AND r.month = p.month
