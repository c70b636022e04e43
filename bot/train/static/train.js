// Keyboard labelling: Enter on a row's intent list saves that row (a <select> alone does not submit a form).
document.addEventListener("keydown", function (event) {
  var target = event.target;
  if (event.key === "Enter" && target.tagName === "SELECT" && target.form && target.form.classList.contains("label")) {
    event.preventDefault();
    target.form.requestSubmit();
  }
});
