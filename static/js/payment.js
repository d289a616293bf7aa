/*
 * Opens Toss's payment window for a one-time order:
 * TossPayments(clientKey).payment({customerKey}).requestPayment({method: 'CARD', ...}).
 *
 * On 주문 확인 (/buy/<plan>, form#buy-form) one click does it all: the form is sent with fetch
 * (Accept: application/json); the server creates the order at the plan's price, as for a plain
 * POST, and answers with the window's parameters. Anything else (no SDK, no fetch, a form error)
 * falls back to the plain POST: the form again with its error summary, or the pay page.
 * On the pay page (/orders/<id>/pay, button#pay-button) the button's data-* attributes carry the
 * same parameters. Toss then sends the browser to successUrl (?paymentKey&orderId&amount) or
 * failUrl (?code&message). The amount here is only what the window displays: the server confirms
 * the order's own amount and refuses any other. No inline script, so the CSP stays strict.
 */
(function () {
  'use strict';

  var CANCELED = '결제를 취소하셨습니다. 다시 결제하시려면 결제 버튼을 눌러 주세요.';

  function isCancel(error) {
    var name = error && error.name ? error.name : '';
    return name === 'UserCancelError' || (error && (error.code === 'USER_CANCEL' || error.code === 'PAY_PROCESS_CANCELED'));
  }

  function explain(error) {
    if (isCancel(error)) { return CANCELED; }
    return '결제창을 열지 못했습니다. 페이지를 새로 고친 뒤 다시 시도해 주세요. 문제가 계속되면 고객센터로 문의해 주세요.' +
      (error && error.message ? ' (' + error.message + ')' : '');
  }

  function showError(box, text) {
    box.textContent = text;
    box.hidden = false;
  }

  /* The window for these parameters; the promise rejects if it could not open or was closed. */
  function requestPayment(data) {
    try {
      var payment = window.TossPayments(data.clientKey).payment({ customerKey: data.customerKey });
      return Promise.resolve(payment.requestPayment({
        method: 'CARD',
        amount: { currency: 'KRW', value: parseInt(data.amount, 10) },
        orderId: data.orderId,
        orderName: data.orderName,
        successUrl: data.successUrl,
        failUrl: data.failUrl,
        customerEmail: data.customerEmail,
        customerName: data.customerName
      }));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  function fromJson(toss) {
    return {
      clientKey: toss.client_key, customerKey: toss.customer_key, amount: toss.amount, orderId: toss.order_id,
      orderName: toss.order_name, successUrl: toss.success_url, failUrl: toss.fail_url,
      customerEmail: toss.customer_email, customerName: toss.customer_name
    };
  }

  function buyForm(form, box) {
    var button = document.getElementById('buy-submit');
    var created = null;  // a second click pays the order already created instead of creating another

    function open(answer) {
      created = answer;
      requestPayment(fromJson(answer.toss)).catch(function (error) {
        button.disabled = false;
        if (isCancel(error)) {
          showError(box, CANCELED);
        } else {
          window.location.assign(answer.pay_url);
        }
      });
    }

    form.addEventListener('submit', function (event) {
      if (typeof window.TossPayments !== 'function' || typeof window.fetch !== 'function') { return; }
      event.preventDefault();
      if (button.disabled) { return; }
      button.disabled = true;
      box.hidden = true;
      if (created) { open(created); return; }
      window.fetch(form.action || window.location.href, {
        method: 'POST', body: new FormData(form), credentials: 'same-origin', headers: { Accept: 'application/json' }
      }).then(function (response) {
        var type = response.headers.get('Content-Type') || '';
        if (!response.ok || type.indexOf('application/json') === -1) { throw new Error('form'); }
        return response.json();
      }).then(open, function () { HTMLFormElement.prototype.submit.call(form); });
    });
  }

  function payButton(button, box) {
    button.addEventListener('click', function () {
      box.hidden = true;
      if (typeof window.TossPayments !== 'function') {
        showError(box, '결제 모듈을 불러오지 못했습니다. 인터넷 연결을 확인하고 페이지를 새로 고쳐 주세요.');
        return;
      }
      button.disabled = true;
      requestPayment(button.dataset).catch(function (error) {
        button.disabled = false;
        showError(box, explain(error));
      });
    });
  }

  var box = document.getElementById('pay-error');
  if (!box) { return; }
  var form = document.getElementById('buy-form');
  var button = document.getElementById('pay-button');
  if (form) { buyForm(form, box); }
  if (button) { payButton(button, box); }
}());
