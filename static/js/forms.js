/*
 * Forms on every page: when the server re-renders a form with errors, move focus to the error
 * summary at the top (templates/macros/forms.html error_summary), so a phone user is not left
 * 1,500 px above the first problem; each link in it moves focus to its field.
 */
(function () {
  'use strict';

  document.addEventListener('DOMContentLoaded', function () {
    var summary = document.getElementById('error-summary');
    if (!summary) { return; }
    summary.focus();
    summary.addEventListener('click', function (event) {
      var link = event.target.closest('a[href^="#"]');
      if (!link) { return; }
      var field = document.getElementById(link.getAttribute('href').slice(1));
      if (!field) { return; }
      event.preventDefault();
      field.focus();
      field.scrollIntoView({ block: 'center' });
    });
  });
}());
