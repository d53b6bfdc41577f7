"""Redemption's transaction as one server-side function on PostgreSQL (issue 18).

Revision ID: 0009
Revises: 0008
Create Date: 2027-01-11

Self-contained on purpose (no imports from app/). PostgreSQL only: on SQLite the same
transaction runs as Python statements (app/services/redemptions.py says which rules live
where and why).

``mitra_redeem`` is the mechanics of a redemption, not its rules: it finds the partner
(by WhatsApp id) and the reward (by code), locks the partner's account row, and answers
a replay; otherwise it sweeps nothing (``sweep`` asks the caller to expire due points
first), checks the balance, saves a given address (goods need one), spends the points
soonest-expiring lots first, takes a unit of stock or a voucher code, and writes the
redemption and the audit rows. It returns what it found (the partner's status, role and
region; the reward's window, eligibility lists and limit) so that Python judges the
rules on them in the same transaction and rolls the whole call back when one refuses.
The function never commits.

Also for the redemption's speed: two indexes that others cover are dropped, and
``redemption.reward_id`` loses its foreign key (a check that locked the one hot reward row
for every concurrent redemption); reward rows can no longer be deleted instead.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SIGNATURE = "mitra_redeem(text, text, text, text, timestamptz, text)"

# OUT columns are named out_* so that none can be mistaken for a table's column inside.
REDEEM = r"""
CREATE OR REPLACE FUNCTION mitra_redeem(
    p_wa_id text,
    p_reward_code text,
    p_key text,
    p_actor text,
    p_now timestamptz,
    p_address text,
    OUT outcome text,
    OUT out_partner_id integer,
    OUT out_partner_status text,
    OUT out_partner_role text,
    OUT out_partner_region text,
    OUT out_reward_id integer,
    OUT out_reward_kind text,
    OUT out_reward_cost integer,
    OUT out_reward_name_id text,
    OUT out_reward_name_en text,
    OUT out_reward_active boolean,
    OUT out_reward_starts_on date,
    OUT out_reward_ends_on date,
    OUT out_reward_roles json,
    OUT out_reward_regions json,
    OUT out_reward_tiers json,
    OUT out_reward_limit_count integer,
    OUT out_reward_limit_period text,
    OUT out_redemption_id integer,
    OUT out_redemption_no text,
    OUT out_redemption_status text,
    OUT out_balance bigint,
    OUT out_voucher_code text,
    OUT out_voucher_expires_at timestamptz,
    OUT out_delivery_address text,
    OUT out_stock_left integer
) RETURNS record
LANGUAGE plpgsql AS $$
DECLARE
    v_partner integer;
    v_reward integer;
    v_kind text;
    v_cost integer;
    v_address text;
    v_balance bigint;
    v_id integer;
    v_no text;
    v_description text;
    v_entry integer;
    v_need integer;
    v_take integer;
    v_lot record;
    v_code_id integer;
    v_status text;
BEGIN
    SELECT p.id, p.status, p.role, p.region, p.address
      INTO v_partner, out_partner_status, out_partner_role, out_partner_region, v_address
      FROM partner p WHERE p.wa_id = p_wa_id;
    IF NOT FOUND THEN
        outcome := 'no_partner'; RETURN;
    END IF;
    out_partner_id := v_partner;
    SELECT r.id, r.kind, r.cost, r.name_id, r.name_en, r.active, r.starts_on, r.ends_on,
           r.roles, r.regions, r.tiers, r.limit_count, r.limit_period
      INTO v_reward, v_kind, v_cost, out_reward_name_id, out_reward_name_en,
           out_reward_active, out_reward_starts_on, out_reward_ends_on, out_reward_roles,
           out_reward_regions, out_reward_tiers, out_reward_limit_count,
           out_reward_limit_period
      FROM reward r WHERE r.code = p_reward_code;
    IF NOT FOUND THEN
        outcome := 'no_reward'; RETURN;
    END IF;
    out_reward_id := v_reward; out_reward_kind := v_kind; out_reward_cost := v_cost;

    -- The account row first (the ledger's lock order): replay and limit are exact.
    SELECT a.balance INTO v_balance FROM points_account a
     WHERE a.partner_id = v_partner FOR UPDATE;
    IF NOT FOUND THEN
        outcome := 'no_account'; RETURN;
    END IF;
    SELECT r.id INTO v_id FROM redemption r WHERE r.idempotency_key = p_key;
    IF FOUND THEN
        outcome := 'replay'; out_redemption_id := v_id; RETURN;
    END IF;
    -- Points past their expiry are not spendable: the caller sweeps them and calls again.
    IF EXISTS (
        SELECT 1 FROM points_lot l
         WHERE l.partner_id = v_partner AND l.points_remaining > 0 AND l.expires_at < p_now
    ) THEN
        outcome := 'sweep'; RETURN;
    END IF;
    out_balance := v_balance;
    IF v_balance < v_cost THEN
        outcome := 'insufficient_points'; RETURN;
    END IF;
    -- The address after the points: a partner who cannot pay is never asked for one.
    IF p_address IS NOT NULL AND p_address IS DISTINCT FROM v_address THEN
        INSERT INTO audit_log (actor, action, entity, entity_id, details, created_at)
        VALUES (p_actor, 'partner.set_address', 'partner', v_partner::text,
                json_build_object('from', v_address, 'to', p_address), p_now);
        UPDATE partner SET address = p_address WHERE id = v_partner;
        v_address := p_address;
    END IF;
    IF v_kind IN ('merchandise', 'business_supply') THEN
        IF v_address IS NULL OR v_address = '' THEN
            outcome := 'address_required'; RETURN;
        END IF;
        out_delivery_address := v_address;
    END IF;

    v_id := nextval('redemption_id_seq'::regclass);
    v_no := 'RDM-' || lpad(v_id::text, 6, '0');
    v_description := left('Redeemed: ' || out_reward_name_en || ' (' || v_no || ')', 200);
    UPDATE points_account SET balance = points_account.balance - v_cost, updated_at = p_now
     WHERE points_account.partner_id = v_partner
    RETURNING points_account.balance INTO v_balance;
    INSERT INTO ledger_entry (partner_id, delta, reason, reference_type, reference_id,
                              description, idempotency_key, balance_after, created_at)
    VALUES (v_partner, -v_cost, 'redemption', 'redemption', v_no, v_description,
            'redemption:' || v_no, v_balance, p_now)
    RETURNING id INTO v_entry;
    v_need := v_cost;
    FOR v_lot IN
        -- No row locks needed: every writer of a partner's lots holds the account row.
        SELECT l.id, l.points_remaining FROM points_lot l
         WHERE l.partner_id = v_partner AND l.points_remaining > 0
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
        RAISE EXCEPTION 'lots of partner % short by % points', v_partner, v_need
            USING ERRCODE = 'check_violation';
    END IF;
    -- Stock after the spend, as the Python path does (lock order: account, lots, then the
    -- reward row or a voucher code); out of stock is rolled back with the spend.
    IF v_kind = 'voucher' THEN
        UPDATE voucher_code
           SET status = 'issued', redemption_id = v_id, issued_at = p_now
         WHERE id = (
                SELECT c.id FROM voucher_code c
                 WHERE c.reward_id = v_reward AND c.status = 'available'
                   AND c.expires_at > p_now
                 ORDER BY c.expires_at, c.id
                 LIMIT 1
                   FOR UPDATE SKIP LOCKED)
           AND status = 'available'
        RETURNING id, code, expires_at INTO v_code_id, out_voucher_code, out_voucher_expires_at;
        IF v_code_id IS NULL THEN
            outcome := 'out_of_stock'; RETURN;
        END IF;
        v_status := 'fulfilled';
    ELSE
        UPDATE reward SET stock = stock - 1
         WHERE id = v_reward AND stock > 0
        RETURNING stock INTO out_stock_left;
        IF NOT FOUND AND (SELECT stock FROM reward WHERE id = v_reward) IS NOT NULL THEN
            outcome := 'out_of_stock'; RETURN;
        END IF;
        v_status := 'requested';
    END IF;
    INSERT INTO audit_log (actor, action, entity, entity_id, details, created_at)
    VALUES (p_actor, 'points.spend', 'ledger_entry', v_entry::text,
            json_build_object(
                'partner_id', v_partner, 'delta', -v_cost, 'balance_after', v_balance,
                'reason', 'redemption', 'reference_type', 'redemption', 'reference_id', v_no,
                'description', v_description, 'idempotency_key', 'redemption:' || v_no),
            p_now);
    INSERT INTO redemption (id, redemption_no, partner_id, reward_id, kind, status,
                            points_spent, balance_after, idempotency_key, voucher_code_id,
                            ledger_entry_id, delivery_address, created_at, updated_at)
    VALUES (v_id, v_no, v_partner, v_reward, v_kind, v_status, v_cost, v_balance, p_key,
            v_code_id, v_entry, out_delivery_address, p_now, p_now);
    INSERT INTO audit_log (actor, action, entity, entity_id, details, created_at)
    VALUES (p_actor, 'redemption.create', 'redemption', v_no,
            json_build_object(
                'partner_id', v_partner, 'reward', p_reward_code, 'kind', v_kind,
                'status', v_status, 'points', v_cost, 'balance_after', v_balance,
                'ledger_entry_id', v_entry, 'voucher_code_id', v_code_id,
                'stock_left', out_stock_left, 'idempotency_key', p_key),
            p_now);
    outcome := 'created';
    out_redemption_id := v_id;
    out_redemption_no := v_no;
    out_redemption_status := v_status;
    out_balance := v_balance;
END;
$$
"""


NO_REWARD_DELETE_PG = r"""
CREATE FUNCTION mitra_reject_reward_delete() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'rewards are never deleted (redemptions refer to them): deactivate it'
        USING ERRCODE = 'restrict_violation';
END;
$$ LANGUAGE plpgsql
"""


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    # Two indexes that others already cover, written on every redemption for nothing:
    # (partner_id, created_at) serves the limit count, the UNIQUE (lot_id,
    # ledger_entry_id) the lookups by lot.
    op.drop_index("ix_redemption_partner_id_reward_id_created_at", table_name="redemption")
    op.drop_index("ix_lot_consumption_lot_id", table_name="lot_consumption")
    # redemption.reward_id loses its foreign key (app/models/reward.py says why); a reward
    # can no longer be deleted, so the reference still always resolves.
    with op.batch_alter_table("redemption") as batch:
        batch.drop_constraint("fk_redemption_reward_id_reward", type_="foreignkey")
    if dialect == "postgresql":
        op.execute(NO_REWARD_DELETE_PG)
        op.execute(
            "CREATE TRIGGER reward_no_delete BEFORE DELETE ON reward "
            "FOR EACH ROW EXECUTE FUNCTION mitra_reject_reward_delete()"
        )
        op.execute(REDEEM)
    else:
        op.execute(
            "CREATE TRIGGER reward_no_delete BEFORE DELETE ON reward "
            "BEGIN SELECT RAISE(ABORT, 'rewards are never deleted'); END"
        )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(f"DROP FUNCTION IF EXISTS {SIGNATURE}")
        op.execute("DROP TRIGGER IF EXISTS reward_no_delete ON reward")
        op.execute("DROP FUNCTION IF EXISTS mitra_reject_reward_delete()")
    else:
        op.execute("DROP TRIGGER IF EXISTS reward_no_delete")
    with op.batch_alter_table("redemption") as batch:
        batch.create_foreign_key("fk_redemption_reward_id_reward", "reward", ["reward_id"], ["id"])
    op.create_index("ix_lot_consumption_lot_id", "lot_consumption", ["lot_id"])
    op.create_index(
        "ix_redemption_partner_id_reward_id_created_at",
        "redemption",
        ["partner_id", "reward_id", "created_at"],
    )
