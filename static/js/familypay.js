// Family Pay and the till, progressively enhanced: the pages work without this file.
// - On /family-pay: register the service worker that keeps the card for offline use.
// - On /cassa: where the browser has BarcodeDetector and a camera, scan the QR code into the
//   card field and send the check form.
(function () {
  "use strict";

  if ("serviceWorker" in navigator && document.getElementById("family-card")) {
    navigator.serviceWorker.register("/familypay-sw.js", { scope: "/family-pay" })
      .catch(function () { /* offline copy unavailable: the page still works */ });
  }

  var form = document.getElementById("check-form");
  var button = document.getElementById("scan-button");
  if (!form || !button || !("BarcodeDetector" in window) || !navigator.mediaDevices) {
    return;
  }
  button.hidden = false;
  button.addEventListener("click", function () {
    var box = document.getElementById("scanner");
    var video = document.getElementById("scanner-video");
    var input = form.querySelector("input[name=card]");
    var detector = new window.BarcodeDetector({ formats: ["qr_code"] });
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } })
      .then(function (stream) {
        box.hidden = false;
        video.srcObject = stream;
        video.play();
        var stop = function () {
          stream.getTracks().forEach(function (t) { t.stop(); });
          box.hidden = true;
        };
        var look = function () {
          detector.detect(video).then(function (codes) {
            if (codes.length) {
              input.value = codes[0].rawValue;
              stop();
              form.submit();
            } else {
              window.requestAnimationFrame(look);
            }
          }).catch(function () { window.requestAnimationFrame(look); });
        };
        look();
      })
      .catch(function () { button.hidden = true; input.focus(); });
  });
})();
