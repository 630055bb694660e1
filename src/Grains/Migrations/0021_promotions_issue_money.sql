-- @promotions issues money as @treasury does: a bonus credits a wallet from it whether or not
-- anyone funded it first, so the top-up, bonus and spend flow works on a fresh tenant. New
-- promotions accounts are created so; the ones that exist are changed here.
UPDATE wallets SET may_go_negative = true
WHERE id LIKE 'sys:%' AND split_part(id, ':', array_length(string_to_array(id, ':'), 1) - 1) = 'promotions';
