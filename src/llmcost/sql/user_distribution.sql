-- user_distribution: how cost spreads over users, in one row (SPEC §8 `distribution`; the
-- summary's `concentration` and the P90 threshold of `p90_users`; docs/report.md, "Per user").
--
-- cost_per_user_month_p50/p90/p99_usd: percentiles of user_month_costs (priced user-months).
-- users: users with a priced request. p90_user_usd: the P90 of their totals (user_costs).
-- top_K_pct_share: the share of all users' cost that the ceil(K/100 n) costliest users carry
-- (at least one). gini: sum over users sorted by ascending cost, i = 1..n, of (2i - n - 1) x_i,
-- over n x the total; 0 when every user costs the same, towards 1 when one user pays for all.
--
-- Units: *_usd USD (DOUBLE); shares are fractions (0-1), NULL when the users' total cost is 0.
WITH user_totals AS (
    SELECT CAST(cost_usd AS DOUBLE) AS cost_usd
    FROM user_costs
    WHERE cost_usd IS NOT NULL
),
ranked AS (
    SELECT cost_usd,
           ROW_NUMBER() OVER (ORDER BY cost_usd DESC) AS cost_rank,
           COUNT(*) OVER () AS users,
           SUM(cost_usd) OVER () AS total_usd
    FROM user_totals
),
user_months AS (
    SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY CAST(cost_usd AS DOUBLE)) AS p50_usd,
           percentile_cont(0.9) WITHIN GROUP (ORDER BY CAST(cost_usd AS DOUBLE)) AS p90_usd,
           percentile_cont(0.99) WITHIN GROUP (ORDER BY CAST(cost_usd AS DOUBLE)) AS p99_usd
    FROM user_month_costs
),
users AS (
    SELECT COUNT(*) AS users,
           percentile_cont(0.9) WITHIN GROUP (ORDER BY cost_usd) AS p90_user_usd,
           SUM(CASE WHEN cost_rank <= GREATEST(1, CEIL(0.01 * users)) THEN cost_usd END)
               / NULLIF(MAX(total_usd), 0) AS top_1_pct_share,
           SUM(CASE WHEN cost_rank <= GREATEST(1, CEIL(0.05 * users)) THEN cost_usd END)
               / NULLIF(MAX(total_usd), 0) AS top_5_pct_share,
           SUM(CASE WHEN cost_rank <= GREATEST(1, CEIL(0.10 * users)) THEN cost_usd END)
               / NULLIF(MAX(total_usd), 0) AS top_10_pct_share,
           SUM(CASE WHEN cost_rank <= GREATEST(1, CEIL(0.20 * users)) THEN cost_usd END)
               / NULLIF(MAX(total_usd), 0) AS top_20_pct_share,
           -- ascending rank i = users - cost_rank + 1, so 2i - n - 1 = n - 2 cost_rank + 1
           SUM((users - 2 * cost_rank + 1) * cost_usd)
               / NULLIF(MAX(users) * MAX(total_usd), 0) AS gini
    FROM ranked
)
SELECT m.p50_usd AS cost_per_user_month_p50_usd,
       m.p90_usd AS cost_per_user_month_p90_usd,
       m.p99_usd AS cost_per_user_month_p99_usd,
       u.users,
       u.p90_user_usd,
       u.top_1_pct_share,
       u.top_5_pct_share,
       u.top_10_pct_share,
       u.top_20_pct_share,
       u.gini
FROM user_months m
CROSS JOIN users u
