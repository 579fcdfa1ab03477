-- customer_month_revenue: the revenue of each customer-month that overlaps the report's window,
-- counted by the share of the month inside the window (docs/report.md, "Revenue in a window"):
-- all of it for a month the window holds whole, 17/31 of an October for a window from 10-15.
--
-- Read from `revenue_in_window`, which the loader builds with llmcost.revenue (the one rule every
-- command uses). One row per customer and month.
--
-- Units: revenue_usd USD (DOUBLE); month the first day of the UTC calendar month.
SELECT customer_id,
       month,
       plan,
       revenue AS revenue_usd
FROM revenue_in_window
WHERE NOT prev
