// Click a figure of the companion to see it at full resolution; click again or press Escape to close.
document.addEventListener("click", (event) => {
  const open = document.querySelector(".lossdyn-lightbox");
  if (open) { open.remove(); return; }
  const img = event.target.closest("img.lossdyn-zoom");
  if (!img) return;
  const box = document.createElement("div");
  box.className = "lossdyn-lightbox";
  const big = document.createElement("img");
  big.src = img.src;
  big.alt = img.alt;
  box.appendChild(big);
  document.body.appendChild(box);
});
document.addEventListener("keydown", (event) => {
  if (event.key === "Escape") document.querySelector(".lossdyn-lightbox")?.remove();
});
