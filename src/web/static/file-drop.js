// A file input with a drop zone and a "clear" button, as both panels of the page use it: choosing,
// dropping or clearing a file calls `choose(file)` (null when cleared).

const $ = (id) => document.getElementById(id);

export function wireFileDrop({ drop, input, clear }, choose) {
  const zone = $(drop);
  $(input).addEventListener('change', (event) => choose(event.target.files[0] ?? null));
  $(clear).addEventListener('click', () => {
    $(input).value = '';
    choose(null);
    $(input).focus();
  });
  for (const type of ['dragenter', 'dragover']) {
    zone.addEventListener(type, (event) => {
      event.preventDefault();
      zone.classList.add('over');
    });
  }
  for (const type of ['dragleave', 'drop']) {
    zone.addEventListener(type, () => zone.classList.remove('over'));
  }
  zone.addEventListener('drop', (event) => {
    event.preventDefault();
    const file = event.dataTransfer?.files[0];
    if (file) choose(file);
  });
}
