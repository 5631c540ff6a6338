// Own front-end code: the phone's menu button and htmx wiring. Pages work without it.
(function () {
  "use strict";
  // The menu button (shown on a phone, static/scss/_menu.scss) opens and closes the menu;
  // Escape closes it and gives the focus back to the button.
  var toggler = document.querySelector(".custom-navbar-toggler[aria-controls]");
  var menu = toggler && document.getElementById(toggler.getAttribute("aria-controls"));
  function setOpen(open) {
    menu.classList.toggle("is-open", open);
    toggler.setAttribute("aria-expanded", open ? "true" : "false");
  }
  if (menu) {
    toggler.addEventListener("click", function () {
      setOpen(toggler.getAttribute("aria-expanded") !== "true");
    });
    menu.addEventListener("keydown", function (event) {
      if (event.key === "Escape") { setOpen(false); toggler.focus(); }
    });
  }
  if (!window.htmx) { return; }
  var meta = document.querySelector('meta[name="csrf-token"]');
  // Every htmx request carries the CSRF token as a header.
  document.body.addEventListener("htmx:configRequest", function (event) {
    if (meta) { event.detail.headers["X-CSRFToken"] = meta.content; }
  });
  // A 422 answer holds the form with its errors: swap it like a success.
  htmx.config.responseHandling = [
    { code: "204", swap: false },
    { code: "[23]..", swap: true },
    { code: "422", swap: true },
    { code: "[45]..", swap: false, error: true },
    { code: "...", swap: false }
  ];
  // After a swap, move focus to the first error so screen-reader users hear it.
  document.body.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail.target;
    var invalid = target && target.querySelector && target.querySelector("#form-errors, .is-invalid");
    if (invalid) { invalid.focus(); }
  });
})();
