// The alerts list: "all on this page" ticks every row's box for the bulk buttons.
const all = document.getElementById('alerts-select-all');
if (all) {
  all.addEventListener('change', () => {
    for (const box of document.querySelectorAll('#alerts-list .nw-pick')) box.checked = all.checked;
  });
}
