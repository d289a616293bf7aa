/*
 * Toss Payments JS SDK v2 stand-in, served by the offline sandbox at /v2/standard.
 *
 * Same entry points as https://js.tosspayments.com/v2/standard for what the store uses:
 *   TossPayments(clientKey).payment({customerKey}).requestBillingAuth({...})
 *   TossPayments(clientKey).payment({customerKey}).requestPayment({...})
 * Parameters are checked like the real SDK; a bad one rejects the returned Promise with an
 * Error whose `name` is the SDK's error class and `code` a Toss code. A good request sends
 * the browser (window.location) to the sandbox's card window.
 */
(function (global) {
  'use strict';

  var script = document.currentScript;
  var BASE = script && script.src ? new URL(script.src).origin : global.location.origin;
  var ANONYMOUS = '@@ANONYMOUS';
  var CUSTOMER_KEY = /^[A-Za-z0-9\-_=.@]{2,50}$/;
  // Toss's SDK typings also allow '=', but the confirm API (D-REF) does not: the stub follows the
  // API, as the card window does, so a merchant finds out here rather than at confirm.
  var ORDER_ID = /^[A-Za-z0-9_\-]{6,64}$/;

  function sdkError(name, code, message) {
    var error = new Error(message);
    error.name = name;
    error.code = code;
    return error;
  }

  function isAbsoluteUrl(value) {
    if (typeof value !== 'string') { return false; }
    try {
      var url = new URL(value);
      return url.protocol === 'http:' || url.protocol === 'https:';
    } catch (e) {
      return false;
    }
  }

  function checkUrls(params) {
    if (!isAbsoluteUrl(params.successUrl)) {
      throw sdkError('IncorrectSuccessUrlFormatError', 'INCORRECT_SUCCESS_URL_FORMAT',
        'successUrl은 http:// 또는 https:// 로 시작하는 전체 주소여야 합니다.');
    }
    if (!isAbsoluteUrl(params.failUrl)) {
      throw sdkError('IncorrectFailUrlFormatError', 'INCORRECT_FAIL_URL_FORMAT',
        'failUrl은 http:// 또는 https:// 로 시작하는 전체 주소여야 합니다.');
    }
  }

  function checkCustomerKey(customerKey) {
    if (customerKey === ANONYMOUS) { return; }
    if (typeof customerKey === 'string' && /^(test|live)_g?sk_/.test(customerKey)) {
      throw sdkError('InsecureKeyUsageError', 'INSECURE_KEY_USAGE',
        'customerKey에 시크릿 키를 사용할 수 없습니다.');
    }
    if (typeof customerKey !== 'string' || !CUSTOMER_KEY.test(customerKey)) {
      throw sdkError('InvalidParametersError', 'INVALID_CUSTOMER_KEY',
        'customerKey는 2자 이상 50자 이하의 영문 대소문자, 숫자, 특수문자(-, _, =, ., @)만 사용할 수 있습니다.');
    }
  }

  function go(path, query) {
    var url = new URL(path, BASE);
    Object.keys(query).forEach(function (name) {
      var value = query[name];
      if (value !== undefined && value !== null && value !== '') {
        url.searchParams.set(name, String(value));
      }
    });
    global.location.assign(url.toString());
    return new Promise(function () {});  // the page is leaving; like the redirect flow, never settles
  }

  function attempt(fn) {
    try {
      return fn();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  function Payment(clientKey, customerKey) {
    this.requestBillingAuth = function (params) {
      return attempt(function () {
        params = params || {};
        if (customerKey === ANONYMOUS) {
          throw sdkError('InvalidParametersError', 'INVALID_CUSTOMER_KEY',
            '자동결제(빌링)에는 비회원(ANONYMOUS) customerKey를 사용할 수 없습니다.');
        }
        if (params.method !== 'CARD') {
          throw sdkError('NotSupportedMethodError', 'NOT_SUPPORTED_METHOD',
            '샌드박스의 자동결제는 카드(CARD)만 지원합니다.');
        }
        checkUrls(params);
        return go('/_sandbox/window/billing', {
          clientKey: clientKey,
          customerKey: customerKey,
          method: 'CARD',
          successUrl: params.successUrl,
          failUrl: params.failUrl,
          customerEmail: params.customerEmail,
          customerName: params.customerName
        });
      });
    };

    this.requestPayment = function (params) {
      return attempt(function () {
        params = params || {};
        if (params.method !== 'CARD') {
          throw sdkError('NotSupportedMethodError', 'NOT_SUPPORTED_METHOD',
            '샌드박스는 카드(CARD) 결제만 지원합니다.');
        }
        var amount = params.amount || {};
        if (amount.currency !== 'KRW') {
          throw sdkError('InvalidAmountCurrencyError', 'INVALID_AMOUNT_CURRENCY',
            'amount.currency는 KRW여야 합니다.');
        }
        if (typeof amount.value !== 'number' || !isFinite(amount.value) || Math.floor(amount.value) !== amount.value ||
            amount.value <= 0) {
          throw sdkError('InvalidParametersError', 'INVALID_AMOUNT_VALUE', 'amount.value는 0보다 큰 정수여야 합니다.');
        }
        if (typeof params.orderId !== 'string' || !ORDER_ID.test(params.orderId)) {
          throw sdkError('InvalidParametersError', 'INVALID_ORDER_ID',
            'orderId는 6자 이상 64자 이하의 영문 대소문자, 숫자, 특수문자(-, _)만 사용할 수 있습니다.');
        }
        if (typeof params.orderName !== 'string' || params.orderName.length < 1 || params.orderName.length > 100) {
          throw sdkError('InvalidParametersError', 'INVALID_ORDER_NAME', 'orderName은 1자 이상 100자 이하여야 합니다.');
        }
        checkUrls(params);
        return go('/_sandbox/window/payment', {
          clientKey: clientKey,
          customerKey: customerKey,
          method: 'CARD',
          amount: amount.value,
          currency: amount.currency,
          orderId: params.orderId,
          orderName: params.orderName,
          successUrl: params.successUrl,
          failUrl: params.failUrl,
          customerEmail: params.customerEmail,
          customerName: params.customerName
        });
      });
    };
  }

  function TossPayments(clientKey) {
    if (typeof clientKey === 'string' && clientKey.indexOf('_gck_') !== -1) {
      throw sdkError('NotSupportedWidgetKeyError', 'NOT_SUPPORTED_WIDGET_KEY',
        '결제위젯 연동 키는 payment()에 사용할 수 없습니다. API 개별 연동 키(test_ck_)를 사용하세요.');
    }
    if (typeof clientKey !== 'string' || clientKey.indexOf('test_ck_') !== 0) {
      throw sdkError('InvalidClientKeyError', 'INVALID_CLIENT_KEY',
        '샌드박스에서는 test_ck_ 로 시작하는 클라이언트 키만 사용할 수 있습니다.');
    }
    return {
      payment: function (options) {
        var customerKey = (options || {}).customerKey;
        checkCustomerKey(customerKey);
        return new Payment(clientKey, customerKey);
      }
    };
  }

  TossPayments.ANONYMOUS = ANONYMOUS;
  global.TossPayments = TossPayments;
}(window));
