// Admin product form: show the chosen image before it is uploaded.
// The strict CSP allows data: images (not blob:), so the file is read as a data URL.
(function () {
  "use strict";
  var input = document.querySelector("input[data-preview]");
  if (!input || !window.FileReader) {
    return;
  }
  var img = document.getElementById(input.getAttribute("data-preview"));
  var note = document.getElementById(input.getAttribute("data-preview") + "-note");
  var limit = parseInt(input.getAttribute("data-max-bytes"), 10) || 0;
  input.addEventListener("change", function () {
    var file = input.files && input.files[0];
    if (!file) {
      return;
    }
    if (limit && file.size > limit) {
      note.textContent = "5MB를 넘는 파일은 올릴 수 없습니다. 더 작은 이미지를 골라 주세요.";
      return;
    }
    var reader = new FileReader();
    reader.onload = function () {
      img.src = reader.result;
      img.hidden = false;
      note.textContent = "선택한 이미지 미리보기입니다. 저장하면 서버에서 확인한 뒤 이 이미지로 바뀝니다.";
    };
    reader.readAsDataURL(file);
  });
})();
