-- user_month_costs: each active user-month, a user's requests in one UTC calendar month of the
-- window (SPEC §8 `cost_per_user_month_usd` is over these).
--
-- Units: cost_usd USD, exact DECIMAL(38,24), NULL when none of the user-month's requests is
-- priced (such a user-month is active but left out of the percentiles); month the first day.
SELECT user_id,
       month,
       COUNT(*) AS requests,
       SUM(cost_usd) AS cost_usd
FROM priced_requests
WHERE user_id IS NOT NULL
GROUP BY user_id, month
