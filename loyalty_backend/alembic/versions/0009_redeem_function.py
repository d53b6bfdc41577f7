"""Redemption's transaction as one server-side function on PostgreSQL (issue 18).

Revision ID: 0009
Revises: 0008
Create Date: 2027-01-11

Self-contained on purpose (no imports from app/). PostgreSQL only: on SQLite the same
transaction runs as Python statements (app/services/redemptions.py says which rules live
where and why). ``mitra_redeem`` does what needs the partner's account row locked and
nothing else: the replay check, the partner's status, the per-period limit count, the
balance, the delivery address, the stock or voucher code, the spend (lots
soonest-expiring first), the redemption row and the audit rows. Python decides
beforehand what needs no lock (the reward's window and who it is for) and passes the
verdict in, so the refusal order stays the one the module docstring states. The function
answers with an outcome and never commits: a refusal is rolled back by its caller.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SIGNATURE = (
    "mitra_redeem(integer, integer, text, text, integer, text, text, text, timestamptz, "
    "text, integer, timestamptz, timestamptz, text, boolean)"
)

REDEEM = r"""
CREATE OR REPLACE FUNCTION mitra_redeem(
    p_partner_id integer,
    p_reward_id integer,
    p_reward_code text,
    p_kind text,
    p_cost integer,
    p_reward_name text,
    p_key text,
    p_actor text,
    p_now timestamptz,
    p_refusal text,
    p_limit_count integer,
    p_limit_from timestamptz,
    p_limit_to timestamptz,
    p_address text,
    p_goods boolean
) RETURNS TABLE (outcome text, redemption_id integer, balance bigint, stock_left integer)
LANGUAGE plpgsql AS $$
DECLARE
    v_status text;
    v_balance bigint;
    v_address text;
    v_id integer;
    v_no text;
    v_entry integer;
    v_need integer;
    v_take integer;
    v_lot record;
    v_code_id integer;
    v_stock integer;
    v_redemption_status text;
BEGIN
    -- The account row first (the ledger's lock order): replay and limit are exact.
    SELECT p.status, a.balance, p.address INTO v_status, v_balance, v_address
      FROM points_account a JOIN partner p ON p.id = a.partner_id
     WHERE a.partner_id = p_partner_id
       FOR UPDATE OF a;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'no_account', NULL::integer, NULL::bigint, NULL::integer;
        RETURN;
    END IF;
    SELECT r.id INTO v_id FROM redemption r WHERE r.idempotency_key = p_key;
    IF FOUND THEN
        RETURN QUERY SELECT 'replay', v_id, NULL::bigint, NULL::integer;
        RETURN;
    END IF;
    IF v_status IN ('suspended', 'left') THEN
        RETURN QUERY SELECT v_status, NULL::integer, NULL::bigint, NULL::integer;
        RETURN;
    END IF;
    IF p_refusal IS NOT NULL THEN
        RETURN QUERY SELECT p_refusal, NULL::integer, NULL::bigint, NULL::integer;
        RETURN;
    END IF;
    IF p_limit_count IS NOT NULL AND (
        SELECT count(*) FROM redemption r
         WHERE r.partner_id = p_partner_id AND r.reward_id = p_reward_id
           AND r.status <> 'cancelled'
           AND r.created_at >= p_limit_from AND r.created_at <= p_limit_to
    ) >= p_limit_count THEN
        RETURN QUERY SELECT 'limit_reached', NULL::integer, NULL::bigint, NULL::integer;
        RETURN;
    END IF;
    -- Points past their expiry are not spendable: the caller sweeps them and calls again.
    IF EXISTS (
        SELECT 1 FROM points_lot l
         WHERE l.partner_id = p_partner_id AND l.points_remaining > 0 AND l.expires_at < p_now
    ) THEN
        RETURN QUERY SELECT 'sweep', NULL::integer, NULL::bigint, NULL::integer;
        RETURN;
    END IF;
    IF v_balance < p_cost THEN
        RETURN QUERY SELECT 'insufficient_points', NULL::integer, v_balance, NULL::integer;
        RETURN;
    END IF;
    -- The address after the points: a partner who cannot pay is never asked for one.
    IF p_address IS NOT NULL AND p_address IS DISTINCT FROM v_address THEN
        INSERT INTO audit_log (actor, action, entity, entity_id, details, created_at)
        VALUES (p_actor, 'partner.set_address', 'partner', p_partner_id::text,
                json_build_object('from', v_address, 'to', p_address), p_now);
        UPDATE partner SET address = p_address WHERE id = p_partner_id;
        v_address := p_address;
    END IF;
    IF p_goods AND (v_address IS NULL OR v_address = '') THEN
        RETURN QUERY SELECT 'address_required', NULL::integer, NULL::bigint, NULL::integer;
        RETURN;
    END IF;

    v_id := nextval(pg_get_serial_sequence('redemption', 'id')::regclass);
    v_no := 'RDM-' || lpad(v_id::text, 6, '0');
    UPDATE points_account SET balance = points_account.balance - p_cost, updated_at = p_now
     WHERE partner_id = p_partner_id
    RETURNING points_account.balance INTO v_balance;
    INSERT INTO ledger_entry (partner_id, delta, reason, reference_type, reference_id,
                              description, idempotency_key, balance_after, created_at)
    VALUES (p_partner_id, -p_cost, 'redemption', 'redemption', v_no,
            left('Redeemed: ' || p_reward_name || ' (' || v_no || ')', 200),
            'redemption:' || v_no, v_balance, p_now)
    RETURNING id INTO v_entry;
    v_need := p_cost;
    FOR v_lot IN
        -- No row locks needed: every writer of a partner's lots holds the account row.
        SELECT l.id, l.points_remaining FROM points_lot l
         WHERE l.partner_id = p_partner_id AND l.points_remaining > 0
         ORDER BY l.expires_at, l.id
    LOOP
        v_take := least(v_need, v_lot.points_remaining);
        UPDATE points_lot SET points_remaining = points_remaining - v_take WHERE id = v_lot.id;
        INSERT INTO lot_consumption (lot_id, ledger_entry_id, points, created_at)
        VALUES (v_lot.id, v_entry, v_take, p_now);
        v_need := v_need - v_take;
        EXIT WHEN v_need = 0;
    END LOOP;
    IF v_need > 0 THEN
        RAISE EXCEPTION 'lots of partner % short by % points', p_partner_id, v_need
            USING ERRCODE = 'check_violation';
    END IF;
    -- Stock after the spend, as the Python path does (lock order: account, lots, then the
    -- reward row or a voucher code); out of stock is rolled back with the spend.
    IF p_kind = 'voucher' THEN
        UPDATE voucher_code
           SET status = 'issued', redemption_id = v_id, issued_at = p_now
         WHERE id = (
                SELECT c.id FROM voucher_code c
                 WHERE c.reward_id = p_reward_id AND c.status = 'available'
                   AND c.expires_at > p_now
                 ORDER BY c.expires_at, c.id
                 LIMIT 1
                   FOR UPDATE SKIP LOCKED)
           AND status = 'available'
        RETURNING id INTO v_code_id;
        IF v_code_id IS NULL THEN
            RETURN QUERY SELECT 'out_of_stock', NULL::integer, NULL::bigint, NULL::integer;
            RETURN;
        END IF;
        v_redemption_status := 'fulfilled';
    ELSE
        UPDATE reward SET stock = stock - 1
         WHERE id = p_reward_id AND stock > 0
        RETURNING stock INTO v_stock;
        IF NOT FOUND AND (SELECT stock FROM reward WHERE id = p_reward_id) IS NOT NULL THEN
            RETURN QUERY SELECT 'out_of_stock', NULL::integer, NULL::bigint, NULL::integer;
            RETURN;
        END IF;
        v_redemption_status := 'requested';
    END IF;

    INSERT INTO audit_log (actor, action, entity, entity_id, details, created_at)
    VALUES (p_actor, 'points.spend', 'ledger_entry', v_entry::text,
            json_build_object(
                'partner_id', p_partner_id, 'delta', -p_cost, 'balance_after', v_balance,
                'reason', 'redemption', 'reference_type', 'redemption', 'reference_id', v_no,
                'description', left('Redeemed: ' || p_reward_name || ' (' || v_no || ')', 200),
                'idempotency_key', 'redemption:' || v_no),
            p_now);
    INSERT INTO redemption (id, redemption_no, partner_id, reward_id, kind, status,
                            points_spent, balance_after, idempotency_key, voucher_code_id,
                            ledger_entry_id, delivery_address, created_at, updated_at)
    VALUES (v_id, v_no, p_partner_id, p_reward_id, p_kind, v_redemption_status,
            p_cost, v_balance, p_key, v_code_id, v_entry,
            CASE WHEN p_goods THEN v_address END, p_now, p_now);
    INSERT INTO audit_log (actor, action, entity, entity_id, details, created_at)
    VALUES (p_actor, 'redemption.create', 'redemption', v_no,
            json_build_object(
                'partner_id', p_partner_id, 'reward', p_reward_code, 'kind', p_kind,
                'status', v_redemption_status, 'points', p_cost, 'balance_after', v_balance,
                'ledger_entry_id', v_entry, 'voucher_code_id', v_code_id,
                'stock_left', v_stock, 'idempotency_key', p_key),
            p_now);
    RETURN QUERY SELECT 'created', v_id, v_balance, v_stock;
END;
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(REDEEM)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP FUNCTION IF EXISTS {SIGNATURE}")
