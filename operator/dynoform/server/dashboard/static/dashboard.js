// The dashboard's own script: a slider's count follows it as it moves (the rest is htmx).
document.addEventListener("input", function (event) {
  var slider = event.target;
  if (slider.matches && slider.matches("input[type=range][data-output]")) {
    var output = document.getElementById(slider.dataset.output);
    if (output) output.value = slider.value;
  }
});
