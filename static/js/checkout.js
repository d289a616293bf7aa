/*
 * Opens Toss's card registration window (자동결제 카드 등록).
 *
 * On 주문 확인 (/subscribe/<plan>, form#checkout-form) one click does it all: the form is sent
 * with fetch (Accept: application/json); the server records the consents and the checkout
 * intent, as for a plain POST, and answers with the window's parameters; then
 * TossPayments(clientKey).payment({customerKey}).requestBillingAuth({method: 'CARD', ...}).
 * Anything else (no SDK, no fetch, a form error, a refusal) falls back to the plain POST: the
 * server re-renders the form with its error summary, or sends the shopper to /billing/card.
 *
 * On /billing/card (button#toss-billing-auth, the fallback and the card change) the button's
 * data-* attributes carry the same parameters. The amount is not here: the server charges
 * what it recorded. No inline script: the Content-Security-Policy allows only this file and the SDK.
 */
(function () {
  'use strict';

  var CANCELED = '카드 등록을 취소하셨습니다. 다시 시도하려면 버튼을 눌러 주세요.';
  var MESSAGES = {
    UserCancelError: CANCELED,
    USER_CANCEL: CANCELED,
    PAY_PROCESS_CANCELED: CANCELED,
    NotSupportedMethodError: '지원하지 않는 결제 수단입니다.',
    IncorrectSuccessUrlFormatError: '결제 설정에 문제가 있습니다. 고객센터로 알려 주세요.',
    IncorrectFailUrlFormatError: '결제 설정에 문제가 있습니다. 고객센터로 알려 주세요.'
  };
  var DEFAULT_MESSAGE = '카드 등록 창을 열지 못했습니다. 잠시 후 다시 시도해 주세요.';

  function showError(box, text) {
    box.textContent = text;
    box.hidden = false;
  }

  function isCancel(error) {
    var name = error && (error.name || error.code);
    return MESSAGES[name] === CANCELED || (error && MESSAGES[error.code] === CANCELED);
  }

  function explain(error) {
    var name = error && (error.name || error.code);
    return MESSAGES[name] || MESSAGES[error && error.code] || DEFAULT_MESSAGE;
  }

  /* Toss's window for these parameters; the promise rejects if it could not open or was closed. */
  function openWindow(data) {
    try {
      var payment = window.TossPayments(data.clientKey).payment({ customerKey: data.customerKey });
      return Promise.resolve(payment.requestBillingAuth({
        method: 'CARD',
        successUrl: data.successUrl,
        failUrl: data.failUrl,
        customerEmail: data.customerEmail || undefined,
        customerName: data.customerName || undefined
      }));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  function fromJson(toss) {
    return {
      clientKey: toss.client_key, customerKey: toss.customer_key, successUrl: toss.success_url,
      failUrl: toss.fail_url, customerEmail: toss.customer_email, customerName: toss.customer_name
    };
  }

  function setBusy(button, busy) {
    button.disabled = busy;
    if (busy) { button.setAttribute('aria-busy', 'true'); } else { button.removeAttribute('aria-busy'); }
  }

  /* 주문 확인: one click from the consents to the card window. */
  function orderForm(form, box) {
    var button = document.getElementById('checkout-submit');
    var opened = null;  // the recorded intent's answer: a second click reuses it instead of a second intent

    function fallback() {
      HTMLFormElement.prototype.submit.call(form);
    }

    function open(answer) {
      opened = answer;
      openWindow(fromJson(answer.toss)).catch(function (error) {
        setBusy(button, false);
        if (isCancel(error)) {
          showError(box, CANCELED);
        } else {
          window.location.assign(answer.card_url);  // the page with its own button and explanations
        }
      });
    }

    form.addEventListener('submit', function (event) {
      if (typeof window.TossPayments !== 'function' || typeof window.fetch !== 'function') {
        return;  // the plain POST: /billing/card opens the window
      }
      event.preventDefault();
      if (button.disabled) { return; }
      setBusy(button, true);
      box.hidden = true;
      if (opened) { open(opened); return; }
      window.fetch(form.action, {
        method: 'POST', body: new FormData(form), credentials: 'same-origin',
        headers: { Accept: 'application/json' }
      }).then(function (response) {
        var type = response.headers.get('Content-Type') || '';
        if (!response.ok || type.indexOf('application/json') === -1) { throw new Error('form'); }
        return response.json();
      }).then(open, fallback);
    });
  }

  /* /billing/card: the button opens the window. */
  function cardButton(button, box) {
    button.addEventListener('click', function () {
      if (typeof window.TossPayments !== 'function') {
        showError(box, '결제 모듈을 불러오지 못했습니다. 페이지를 새로 고친 뒤 다시 시도해 주세요.');
        return;
      }
      setBusy(button, true);
      box.hidden = true;
      openWindow(button.dataset).catch(function (error) {
        setBusy(button, false);
        showError(box, explain(error));
      });
    });
  }

  document.addEventListener('DOMContentLoaded', function () {
    var box = document.getElementById('toss-error');
    if (!box) { return; }
    var form = document.getElementById('checkout-form');
    var button = document.getElementById('toss-billing-auth');
    if (form) { orderForm(form, box); }
    if (button) { cardButton(button, box); }
  });
}());
