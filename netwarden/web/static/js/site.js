// On every page: the time zone toggle (site time or UTC, remembered by this browser in a cookie the
// server reads, so server-rendered and script-drawn times agree).
const toggle = document.getElementById('nw-tz-toggle');
if (toggle) {
  toggle.addEventListener('click', () => {
    const utc = toggle.dataset.utc === '1';
    document.cookie = `nw_tz=${utc ? 'site' : 'utc'}; path=/; max-age=31536000; SameSite=Strict`;
    window.location.reload();
  });
}
