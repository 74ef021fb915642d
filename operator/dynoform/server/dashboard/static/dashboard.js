// The dashboard's own script: a slider and its number follow each other (the rest is htmx).
document.addEventListener("input", function (event) {
  var control = event.target;
  if (control.matches && control.matches("input[data-sync]")) {
    var other = document.getElementById(control.dataset.sync);
    if (other) other.value = control.value;
  }
});
