/*
 * Opens Toss's card registration window (자동결제 카드 등록) from the checkout page.
 *
 * Everything comes from data-* attributes the server rendered on #toss-billing-auth: the client
 * key, the shopper's customerKey, and absolute successUrl/failUrl carrying the checkout intent.
 * The amount is not here: the server charges what it recorded before this page was shown.
 * No inline script: the Content-Security-Policy allows only this file and the Toss SDK.
 */
(function () {
  'use strict';

  var MESSAGES = {
    UserCancelError: '카드 등록을 취소하셨습니다. 다시 시도하려면 버튼을 눌러 주세요.',
    USER_CANCEL: '카드 등록을 취소하셨습니다. 다시 시도하려면 버튼을 눌러 주세요.',
    NotSupportedMethodError: '지원하지 않는 결제 수단입니다.',
    IncorrectSuccessUrlFormatError: '결제 설정에 문제가 있습니다. 고객센터로 알려 주세요.',
    IncorrectFailUrlFormatError: '결제 설정에 문제가 있습니다. 고객센터로 알려 주세요.'
  };
  var DEFAULT_MESSAGE = '카드 등록 창을 열지 못했습니다. 잠시 후 다시 시도해 주세요.';

  function showError(box, text) {
    box.textContent = text;
    box.hidden = false;
  }

  function start(button, box) {
    var data = button.dataset;
    if (typeof window.TossPayments !== 'function') {
      showError(box, '결제 모듈을 불러오지 못했습니다. 페이지를 새로 고친 뒤 다시 시도해 주세요.');
      return;
    }
    button.disabled = true;
    box.hidden = true;
    var request;
    try {
      var payment = window.TossPayments(data.clientKey).payment({ customerKey: data.customerKey });
      request = payment.requestBillingAuth({
        method: 'CARD',
        successUrl: data.successUrl,
        failUrl: data.failUrl,
        customerEmail: data.customerEmail || undefined,
        customerName: data.customerName || undefined
      });
    } catch (error) {
      request = Promise.reject(error);
    }
    Promise.resolve(request).catch(function (error) {
      button.disabled = false;
      var name = error && (error.name || error.code);
      showError(box, MESSAGES[name] || MESSAGES[error && error.code] || DEFAULT_MESSAGE);
    });
  }

  document.addEventListener('DOMContentLoaded', function () {
    var button = document.getElementById('toss-billing-auth');
    var box = document.getElementById('toss-error');
    if (!button || !box) { return; }
    button.addEventListener('click', function () { start(button, box); });
  });
}());
