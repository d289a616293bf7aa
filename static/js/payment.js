/*
 * The pay page's button (templates/orders/pay.html): opens Toss's payment window for the order.
 *
 * Everything comes from the button's data-* attributes (no inline script, so the CSP stays
 * strict): TossPayments(clientKey).payment({customerKey}).requestPayment({method: 'CARD', ...}).
 * Toss then sends the browser to successUrl (?paymentKey&orderId&amount) or failUrl (?code&message).
 * The amount shown here is only what the window displays: the server confirms the order's own
 * amount and refuses any other.
 */
(function () {
  'use strict';

  var button = document.getElementById('pay-button');
  var errorBox = document.getElementById('pay-error');
  if (!button || !errorBox) { return; }

  function showError(text) {
    errorBox.textContent = text;
    errorBox.hidden = false;
    button.disabled = false;
  }

  function explain(error) {
    var name = error && error.name ? error.name : '';
    if (name === 'UserCancelError' || (error && error.code === 'USER_CANCEL')) {
      return '결제를 취소하셨습니다. 다시 결제하시려면 결제 버튼을 눌러 주세요.';
    }
    return '결제창을 열지 못했습니다. 페이지를 새로 고친 뒤 다시 시도해 주세요. 문제가 계속되면 고객센터로 문의해 주세요.' +
      (error && error.message ? ' (' + error.message + ')' : '');
  }

  button.addEventListener('click', function () {
    var data = button.dataset;
    errorBox.hidden = true;
    if (typeof window.TossPayments !== 'function') {
      showError('결제 모듈을 불러오지 못했습니다. 인터넷 연결을 확인하고 페이지를 새로 고쳐 주세요.');
      return;
    }
    button.disabled = true;
    var request;
    try {
      var payment = window.TossPayments(data.clientKey).payment({ customerKey: data.customerKey });
      request = payment.requestPayment({
        method: 'CARD',
        amount: { currency: 'KRW', value: parseInt(data.amount, 10) },
        orderId: data.orderId,
        orderName: data.orderName,
        successUrl: data.successUrl,
        failUrl: data.failUrl,
        customerEmail: data.customerEmail,
        customerName: data.customerName
      });
    } catch (error) {
      showError(explain(error));
      return;
    }
    if (request && typeof request.catch === 'function') {
      request.catch(function (error) { showError(explain(error)); });
    }
  });
}());
