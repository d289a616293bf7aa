"""Admin views: dashboard, subscriptions, customers, catalog, outbox, webhooks.

Admins only (`admin_required`: guests are sent to log in, shoppers get 403). Every page that
shows personal data writes an AuditLog row first (접속기록, kept at least two years). Views
parse, call one function of `queries`, `catalog` or `billing`, then render or redirect.
"""

from __future__ import annotations

from dataclasses import replace
from functools import wraps

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from storefront.billing.recurring import admin_actions, statuses
from storefront.billing.compliance import consent as consent_service
from storefront.billing.refunding import refund_notices
from storefront.billing.recurring import subscriptions as subscription_service
from storefront.billing.refunding import refunds as refund_service
from storefront import media
from storefront.extensions import client_ip, csrf, db, services
from storefront.models import AuditLog, Category, Plan, Product
from storefront.web.admin import catalog, queries
from storefront.web.admin import figures as admin_figures
from storefront.web.admin.forms import ActionForm, ApplyPriceForm, CategoryForm, NewPlanForm, PlanForm, ProductForm
from storefront.web.admin.audit_text import RELEASE_REASONS, audit_detail
from storefront.web.admin.consent_text import consent_summary
from storefront.web.admin.labels import LABELS
from storefront.web.webhooks import process_safely

bp = Blueprint("admin", __name__, url_prefix="/admin")


def admin_required(view):
    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if not current_user.is_admin:
            abort(403)
        return view(*args, **kwargs)

    return wrapped


def order_state(order) -> str:
    """What an order's badge says: its status, or 확인 중 (an answer lost) / 부분 환불 (partly refunded)."""
    if order.status == "pending" and any(a.status in queries.OPEN_ATTEMPT_STATUSES for a in order.attempts):
        return "checking"
    if order.status == "paid" and any(refund_service.refund_state(a) for a in order.attempts):
        return "partially_refunded"
    return order.status


def refund_left(attempt) -> int:
    """Won still refundable on a paid attempt, from its loaded refunds (sending, done and unknown ones count)."""
    if attempt.status != "done":
        return 0
    reserved = sum(r.amount_won for r in attempt.refunds if r.status in refund_service.RESERVING)
    return max(attempt.amount_won - reserved, 0)


@bp.context_processor
def _admin_context() -> dict:
    # formdata=None: the buttons only need a CSRF token, and a page must render without reading the body
    # (an oversized upload is answered without parsing it).
    return {
        "labels": LABELS,
        "audit_detail": audit_detail,
        "consent_summary": consent_summary,
        "release_reasons": RELEASE_REASONS,
        "action_form": ActionForm(formdata=None),
        "refund_state": refund_service.refund_state,
        "refund_left": refund_left,
        "order_state": order_state,
    }


def audit_row(action: str, reason: str, *, subscription_id: int | None = None, user_id: int | None = None) -> AuditLog:
    """An AuditLog row for the signed-in admin, now, from their address (added to the session, not committed)."""
    row = AuditLog(
        at=services().clock.now(),
        actor_type="admin",
        actor_id=current_user.id,
        action=action,
        reason=reason[:200],
        ip=client_ip()[:64],
        subscription_id=subscription_id,
        user_id=user_id,
    )
    db.session.add(row)
    return row


def _log_access(action: str, reason: str, *, subscription_id: int | None = None, user_id: int | None = None) -> None:
    """접속기록: who looked at which personal data, when and from where (committed at once).

    The rows the page already loaded stay loaded: a commit would otherwise expire them, and the
    template would read each one again (a query per row of the list).
    """
    audit_row(action, reason, subscription_id=subscription_id, user_id=user_id)
    session = db.session()
    keep, session.expire_on_commit = session.expire_on_commit, False
    try:
        session.commit()
    finally:
        session.expire_on_commit = keep


def _page() -> int:
    return request.args.get("page", 1, type=int) or 1


def _get_or_404(model, ident: int):
    item = db.session.get(model, ident)
    if item is None:
        abort(404)
    return item


# -- dashboard, subscriptions, customers -------------------------------------------------


@bp.get("/")
@admin_required
def dashboard():
    now = services().clock.now()
    return render_template(
        "admin/dashboard.html",
        figures=queries.dashboard(db.session(), now=now),
        overview=admin_figures.business(db.session(), now=now, month_param=request.args.get("month")),
        operations=queries.operations(db.session()),
    )


@bp.get("/subscriptions")
@admin_required
def subscriptions():
    status, email = request.args.get("status") or None, (request.args.get("q") or "").strip()[:254]
    page = queries.paginate(db.session(), queries.subscriptions(status, email), _page())
    _log_access(
        "admin_list_subscriptions", f"구독 목록 조회 (상태={status or '전체'}, 검색={email or '-'}, {page.page}쪽)"
    )
    return render_template(
        "admin/subscriptions.html", page=page, status=status, q=email, statuses=queries.SUBSCRIPTION_STATUSES
    )


@bp.get("/subscriptions/<int:subscription_id>")
@admin_required
def subscription(subscription_id: int):
    sub = queries.subscription_detail(db.session(), subscription_id)
    if sub is None:
        abort(404)
    _log_access(
        "admin_view_subscription",
        f"구독 #{sub.id} 상세 조회 (회원 #{sub.user_id})",
        subscription_id=sub.id,
        user_id=sub.user_id,
    )
    now = services().clock.now()
    live = sub.status in statuses.NOT_ENDED
    return render_template(
        "admin/subscription.html",
        sub=sub,
        consents=queries.consents_for(db.session(), sub),
        price_changes=consent_service.changes_for(db.session(), sub.id),
        period_refund=refund_notices.period_refunds(db.session(), [sub]).get(sub.id),
        actions=admin_actions.available_actions(db.session(), sub, now=now),
        action_labels=admin_actions.ACTIONS,
        gate=consent_service.gate(db.session(), sub, now=now) if live and sub.next_charge_at else None,
        plan_change_at=subscription_service.change_effective_at(db.session(), sub) if sub.pending_plan_id else None,
        access_until=consent_service.access_until(sub),
        now=now,
    )


@bp.get("/customers")
@admin_required
def customers():
    email = (request.args.get("q") or "").strip()[:254]
    page = queries.paginate(db.session(), queries.customers(email), _page(), rows=True)
    _log_access("admin_list_customers", f"회원 목록 조회 (검색={email or '-'}, {page.page}쪽)")
    return render_template("admin/customers.html", page=page, q=email)


# -- catalog -------------------------------------------------------------------------------


@bp.get("/products")
@admin_required
def products():
    return _products_page(CategoryForm())


def _products_page(category_form: CategoryForm):
    items = db.session.scalars(db.select(Product).order_by(Product.category_id, Product.position, Product.id)).all()
    return render_template("admin/products.html", products=items, category_form=category_form)


@bp.post("/categories")
@admin_required
def create_category():
    form = CategoryForm()
    if form.validate_on_submit():
        try:
            catalog.create_category(db.session(), name=form.name.data, slug=form.slug.data)
        except catalog.SlugTaken:
            form.slug.errors = [*form.slug.errors, "이미 쓰이는 slug입니다."]
        else:
            db.session.commit()
            flash("카테고리를 추가했습니다.", "success")
            return redirect(url_for(".products"))
    db.session.rollback()
    return _products_page(form)


# The product form takes an image upload, bigger than the app-wide MAX_CONTENT_LENGTH (1 MB). The global CSRF
# check reads the body before any view could raise the limit, so these two views are exempt from it and check
# the form's own CSRF token instead (`_product_form`: a missing or wrong token is a 400, as everywhere else).
@bp.route("/products/new", methods=["GET", "POST"])
@csrf.exempt
@admin_required
def new_product():
    return _product_form(None)


@bp.route("/products/<int:product_id>/edit", methods=["GET", "POST"])
@csrf.exempt
@admin_required
def edit_product(product_id: int):
    return _product_form(_get_or_404(Product, product_id))


def _product_form(product: Product | None):
    if request.method == "POST" and (request.content_length or 0) > UPLOAD_LIMIT:
        return _too_big(product)
    request.max_content_length = UPLOAD_LIMIT
    form = ProductForm(obj=product)
    form.category_id.choices = [
        (c.id, c.name) for c in db.session.scalars(db.select(Category).order_by(Category.position, Category.id))
    ]
    submitted = form.validate_on_submit()
    if form.is_submitted() and form.csrf_token.errors:
        abort(400, description="보안 토큰이 없거나 만료되었습니다. 페이지를 새로 고친 뒤 다시 시도해 주세요.")
    if submitted and _store_upload(form):
        data = catalog.ProductData(**{f: getattr(form, f).data for f in catalog.ProductData.__dataclass_fields__})
        try:
            saved = catalog.save_product(db.session(), _with_defaults(data), product)
        except catalog.SlugTaken:
            db.session.rollback()
            form.slug.errors = [*form.slug.errors, "이미 쓰이는 slug입니다."]
        else:
            db.session.commit()
            flash("상품을 저장했습니다.", "success")
            return redirect(url_for(".edit_product", product_id=saved.id))
    return render_template("admin/product_form.html", form=form, product=product)


# The image (≤ 5 MB) and the rest of the form; a bigger request is refused before it is read.
UPLOAD_LIMIT = media.MAX_BYTES + 512 * 1024


def _store_upload(form: ProductForm) -> bool:
    """Store an uploaded image (checked and re-encoded) and point the form's image at it; False if refused."""
    upload = form.image_file.data
    if not upload or not getattr(upload, "filename", ""):
        return True
    try:
        stored = media.store_product_image(
            upload.read(media.MAX_BYTES + 1), current_app.config["STOREFRONT"].product_image_dir
        )
    except media.ImageRefused as exc:
        form.image_file.errors = [*form.image_file.errors, exc.message]
        return False
    form.image.data = stored.reference
    return True


def _too_big(product: Product | None):
    form = ProductForm(obj=product, formdata=None)
    form.category_id.choices = [
        (c.id, c.name) for c in db.session.scalars(db.select(Category).order_by(Category.position, Category.id))
    ]
    form.image_file.errors = ["이미지는 5MB 이하만 올릴 수 있습니다. 다른 입력은 저장되지 않았으니 다시 입력해 주세요."]
    return render_template("admin/product_form.html", form=form, product=product), 413


def _with_defaults(data: catalog.ProductData) -> catalog.ProductData:
    return replace(
        data,
        summary=data.summary or "",
        description=data.description or "",
        provision=data.provision or "",
        image=data.image or "",
        position=data.position or 0,
        getting_started=data.getting_started or "",
        cooling_off_days=data.cooling_off_days or 7,
        cooling_off_exclusion=data.cooling_off_exclusion or "",
    )


@bp.post("/products/<int:product_id>/toggle")
@admin_required
def toggle_product(product_id: int):
    product = _get_or_404(Product, product_id)
    if ActionForm().validate_on_submit():
        catalog.set_active(db.session(), product, not product.active)
        db.session.commit()
        flash(f"‘{product.name}’ 판매를 {'시작' if product.active else '중지'}했습니다.", "success")
    return redirect(url_for(".products"))


@bp.route("/products/<int:product_id>/plans/new", methods=["GET", "POST"])
@admin_required
def new_plan(product_id: int):
    product = _get_or_404(Product, product_id)
    form = NewPlanForm()
    if form.validate_on_submit():
        catalog.create_plan(db.session(), product, _plan_data(form), interval=form.interval.data)
        db.session.commit()
        flash("플랜을 추가했습니다.", "success")
        return redirect(url_for(".edit_product", product_id=product.id))
    return render_template("admin/plan_form.html", form=form, product=product, plan=None)


@bp.route("/plans/<int:plan_id>/edit", methods=["GET", "POST"])
@admin_required
def edit_plan(plan_id: int):
    plan = _get_or_404(Plan, plan_id)
    form = PlanForm(obj=plan)
    if form.validate_on_submit():
        old_price = plan.amount_won
        catalog.update_plan(db.session(), plan, _plan_data(form))
        db.session.commit()
        flash(_plan_saved_message(plan, old_price), "success")
        return redirect(url_for(".edit_product", product_id=plan.product_id))
    return _plan_page(plan, form, ApplyPriceForm(amount_won=plan.amount_won))


def _plan_page(plan: Plan, form: PlanForm, apply_form: ApplyPriceForm):
    return render_template(
        "admin/plan_form.html",
        form=form,
        product=plan.product,
        plan=plan,
        subscribers=catalog.live_subscribers(db.session(), plan),
        other_price=catalog.subscribers_on_other_price(db.session(), plan),
        apply_form=apply_form,
        earliest=consent_service.earliest_effective_on(services().clock.now()),
    )


@bp.post("/plans/<int:plan_id>/apply-price")
@admin_required
def apply_plan_price(plan_id: int):
    """Apply the plan's price to existing subscribers: rises wait for each one's consent."""
    plan = _get_or_404(Plan, plan_id)
    form = ApplyPriceForm()
    if form.validate_on_submit():
        if form.amount_won.data != str(plan.amount_won):
            form.amount_won.errors = [
                *form.amount_won.errors,
                "화면을 연 뒤 가격이 바뀌었습니다. 새로 고친 뒤 다시 확인해 주세요.",
            ]
        else:
            assert form.effective_on.data is not None  # InputRequired
            try:
                rollout = consent_service.apply_plan_price(
                    db.session(),
                    plan,
                    effective_on=form.effective_on.data,
                    now=services().clock.now(),
                    config=current_app.config["STOREFRONT"],
                    created_by_id=current_user.id,
                )
            except consent_service.TooSoon as exc:
                db.session.rollback()
                form.effective_on.errors = [*form.effective_on.errors, exc.message]
            else:
                db.session.commit()
                flash(_rollout_message(plan, rollout), "success")
                return redirect(url_for(".edit_plan", plan_id=plan.id))
    return _plan_page(plan, PlanForm(obj=plan, formdata=None), form), 400


def _rollout_message(plan: Plan, rollout: consent_service.Rollout) -> str:
    return (
        f"{rollout.effective_on:%Y-%m-%d} 이후 첫 결제일부터 {plan.amount_won:,}원을 적용합니다. "
        f"동의 요청 예정 {rollout.requested}건(동의한 구독자만 "
        "새 가격으로 결제되고, 동의하지 않으면 이용 기간이 끝날 때 "
        f"종료됩니다), 즉시 인하 {rollout.lowered}건, 제외 "
        f"{rollout.skipped}건(무료 체험 중이거나 진행 중인 변경이 있음)."
    )


def _plan_data(form: PlanForm) -> catalog.PlanData:
    """The validated form's values (name and price are required fields)."""
    assert form.name.data is not None and form.amount_won.data is not None
    return catalog.PlanData(
        name=form.name.data,
        amount_won=form.amount_won.data,
        trial_days=form.trial_days.data or 0,
        position=form.position.data or 0,
    )


def _plan_saved_message(plan: Plan, old_price: int) -> str:
    if plan.amount_won == old_price:
        return "플랜을 저장했습니다."
    keeping = catalog.subscribers_on_other_price(db.session(), plan)
    return (
        f"가격을 {old_price:,}원에서 {plan.amount_won:,}원으로 바꿨습니다. 새 가격은 신규 구독에만 적용되며, "
        f"기존 구독 {keeping}건은 새 가격에 별도로 동의하기 전까지 기존 가격으로 결제됩니다. "
        f"기존 구독자에게 적용하려면 플랜 화면의 ‘기존 구독자에게 새 가격 적용’을 사용하세요."
    )


@bp.post("/plans/<int:plan_id>/toggle")
@admin_required
def toggle_plan(plan_id: int):
    plan = _get_or_404(Plan, plan_id)
    if ActionForm().validate_on_submit():
        catalog.set_active(db.session(), plan, not plan.active)
        db.session.commit()
        flash(f"‘{plan.name}’ 플랜 판매를 {'시작' if plan.active else '중지'}했습니다.", "success")
    return redirect(url_for(".edit_product", product_id=plan.product_id))


# -- outbox, webhooks -----------------------------------------------------------


@bp.get("/outbox")
@admin_required
def outbox():
    status = request.args.get("status") or None
    page = queries.paginate(db.session(), queries.outbox(status), _page(), rows=True)
    _log_access("admin_view_outbox", f"발송함 조회 (상태={status or '전체'}, {page.page}쪽)")
    return render_template("admin/outbox.html", page=page, status=status, statuses=queries.EMAIL_STATUSES)


@bp.get("/webhooks")
@admin_required
def webhooks():
    status = request.args.get("status") or None
    page = queries.paginate(db.session(), queries.webhook_events(status), _page())
    _log_access("admin_view_webhooks", f"웹훅 수신 기록 조회 (상태={status or '전체'}, {page.page}쪽)")
    return render_template("admin/webhooks.html", page=page, status=status, statuses=queries.WEBHOOK_STATUSES)


@bp.post("/webhooks/<int:event_id>/reprocess")
@admin_required
def reprocess_webhook(event_id: int):
    if ActionForm().validate_on_submit():
        event = process_safely(event_id)
        if event is None:
            abort(404)
        flash(f"웹훅 #{event.id}: {LABELS['webhook'].get(event.status, event.status)} — {event.note}", "info")
    return redirect(url_for(".webhooks"))
