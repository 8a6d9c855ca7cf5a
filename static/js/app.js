/* AgencyGuard: all page behaviour. Loaded from /static (CSP: script-src 'self'), no inline JS.
 * Everything here is progressive: every page also works with JavaScript switched off. */
(function () {
  "use strict";

  // ---- Small helpers -------------------------------------------------------------------
  function $(selector, root) { return (root || document).querySelector(selector); }
  function $all(selector, root) { return Array.prototype.slice.call((root || document).querySelectorAll(selector)); }

  function isTyping(target) {
    if (!target) return false;
    var tag = target.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || target.isContentEditable;
  }

  function submitForm(form) {
    if (typeof form.requestSubmit === "function") form.requestSubmit();
    else form.submit();
  }

  // ---- A freshly shown API token is selected on focus, ready to copy --------------------
  document.addEventListener("focusin", function (event) {
    if (event.target.matches && event.target.matches("[data-select-on-focus]")) event.target.select();
  });

  // ---- Checkbox lists (cases.kernel.widgets.ChoiceList): a filter box on long lists -------
  var choiceFilters = 0;

  function enhanceChoiceLists(root) {
    $all("[data-choice-list]", root).forEach(function (list) {
      if (list.dataset.enhanced) return;
      var options = $all("input[type=checkbox]", list);
      if (options.length <= Number(list.dataset.filterFrom || 8)) return;
      list.dataset.enhanced = "1";
      choiceFilters += 1;
      var box = document.createElement("div");
      box.className = "choice-filter";
      var label = document.createElement("label");
      var input = document.createElement("input");
      input.type = "search";
      input.id = "choice-filter-" + choiceFilters;
      input.setAttribute("data-choice-filter", "");
      label.htmlFor = input.id;
      label.className = "small";
      label.textContent = list.dataset.filterLabel || "Filter";
      box.appendChild(label);
      box.appendChild(input);
      list.parentNode.insertBefore(box, list);
      input.addEventListener("input", function () {
        var needle = input.value.trim().toLowerCase();
        options.forEach(function (option) {
          var row = option.closest("label") || option;
          var holder = row.parentNode && row.parentNode !== list ? row.parentNode : row;
          // Ticked boxes stay visible so a filter never hides what is chosen.
          var show = !needle || option.checked || row.textContent.toLowerCase().indexOf(needle) !== -1;
          holder.hidden = !show;
        });
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () { enhanceChoiceLists(document); });
  document.addEventListener("htmx:afterSwap", function (event) { enhanceChoiceLists(event.detail.target); });

  // ---- Triage queue: selection, row highlight, keyboard shortcuts ------------------------
  var current = -1;

  function table() { return $("[data-triage-table]"); }
  function rows() { var t = table(); return t ? $all("tbody tr[data-finding-id]", t) : []; }
  function bulkForm() { return $("[data-bulk-form]"); }
  function checkboxOf(row) { return row ? $("input[type=checkbox][name=ids]", row) : null; }

  function refreshSelection() {
    var count = 0;
    rows().forEach(function (row) {
      var box = checkboxOf(row);
      var selected = !!(box && box.checked);
      row.classList.toggle("is-selected", selected);
      if (selected) count += 1;
    });
    var counter = $("[data-selected-count]");
    if (counter) counter.textContent = String(count);
    var all = $("[data-select-all]");
    if (all) {
      var total = rows().length;
      all.checked = total > 0 && count === total;
      all.indeterminate = count > 0 && count < total;
    }
  }

  function highlight(index) {
    var list = rows();
    if (!list.length) { current = -1; return; }
    current = Math.max(0, Math.min(index, list.length - 1));
    list.forEach(function (row, i) { row.classList.toggle("is-current", i === current); });
    var row = list[current];
    if (row.scrollIntoView) row.scrollIntoView({ block: "nearest" });
  }

  function currentRow() { var list = rows(); return current >= 0 ? list[current] : null; }

  function openCurrent() {
    var row = currentRow();
    if (row && row.dataset.href) window.location.assign(row.dataset.href);
  }

  // ---- Triage queue: the side preview, loaded by htmx into the panel --------------------
  var previewEmpty = null;

  function previewPanel() { return $("[data-preview-panel]"); }

  function previewRow(row) {
    var panel = previewPanel();
    if (!row || !panel || !row.dataset.preview || !window.htmx) return;
    if (previewEmpty === null) previewEmpty = panel.innerHTML;
    window.htmx.ajax("GET", row.dataset.preview, { target: "#finding-preview", swap: "innerHTML" });
  }

  function previewCurrent() { previewRow(currentRow()); }

  function closePreview() {
    var panel = previewPanel();
    if (!panel || previewEmpty === null) return false;
    panel.innerHTML = previewEmpty;
    return true;
  }

  function toggleCurrent() {
    var box = checkboxOf(currentRow());
    if (box) { box.checked = !box.checked; refreshSelection(); }
  }

  // Apply a status to the selected rows, or to the highlighted row when none is selected.
  function applyStatus(status, reason) {
    var form = bulkForm();
    if (!form) return;  // viewers have no bulk form: nothing to do
    var selected = $all("input[type=checkbox][name=ids]:checked", form);
    if (!selected.length) {
      var box = checkboxOf(currentRow());
      if (!box) return;
      box.checked = true;
    }
    var select = $("[data-bulk-status]", form);
    var reasonInput = $("[data-bulk-reason]", form);
    if (!select) return;
    select.value = status;
    if (reasonInput) reasonInput.value = reason || "";
    submitForm(form);
  }

  function toggleHelp(force) {
    var help = $("#shortcut-help");
    if (!help) return;
    var show = typeof force === "boolean" ? force : help.hidden;
    help.hidden = !show;
    if (show) {
      var close = $("button[data-toggle-help]", help);
      if (close) close.focus();
    }
  }

  document.addEventListener("click", function (event) {
    var target = event.target;
    if (target.closest("[data-toggle-help]")) { toggleHelp(); return; }
    var help = $("#shortcut-help");
    if (help && !help.hidden && target === help) { toggleHelp(false); return; }
    if (target.closest("[data-preview-close]")) { closePreview(); return; }
    var row = target.closest("[data-triage-table] tbody tr[data-finding-id]");
    if (row) {
      highlight(rows().indexOf(row));
      // Links, checkboxes and buttons in the row keep their own meaning.
      if (!target.closest("a, input, button, label, select")) previewRow(row);
    }
  });

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.matches("[data-select-all]")) {
      rows().forEach(function (row) {
        var box = checkboxOf(row);
        if (box) box.checked = target.checked;
      });
      refreshSelection();
    } else if (target.matches("[data-triage-table] input[name=ids]")) {
      refreshSelection();
    }
  });

  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") {
      var help = $("#shortcut-help");
      if (help && !help.hidden) toggleHelp(false); else closePreview();
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey || isTyping(event.target)) return;
    if (event.key === "?") { event.preventDefault(); toggleHelp(); return; }
    if (event.key === "/") {
      var search = $("#filter-q") || $("input[type=search]");
      if (search) { event.preventDefault(); search.focus(); search.select(); }
      return;
    }
    if (!table()) return;
    switch (event.key) {
      case "j": event.preventDefault(); highlight(current + 1); break;
      case "k": event.preventDefault(); highlight(current < 0 ? 0 : current - 1); break;
      case "x": event.preventDefault(); if (current < 0) highlight(0); toggleCurrent(); break;
      case "p":
      case "Enter":
        // Enter on a focused link or button keeps its own meaning.
        if (event.key === "Enter" && document.activeElement && document.activeElement !== document.body) break;
        if (current >= 0) { event.preventDefault(); previewCurrent(); }
        break;
      case "o": if (current >= 0) { event.preventDefault(); openCurrent(); } break;
      case "t": event.preventDefault(); applyStatus("triaged", ""); break;
      case "d": {
        event.preventDefault();
        var form = bulkForm();
        if (!form) break;
        var reason = window.prompt(form.dataset.dismissPrompt || "Reason?", "");
        if (reason && reason.trim()) applyStatus("dismissed", reason.trim());
        break;
      }
      default: break;
    }
  });

  // After htmx swaps in new results (filters, pages), start again at the top. Other swaps
  // (the preview, the notification bell loading late) keep the place: a reset there would
  // leave a row highlighted that "p" no longer previews.
  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail && event.detail.target;
    if (!target || !target.querySelector) return;
    if (!target.matches("[data-triage-table]") && !target.querySelector("[data-triage-table]")) return;
    current = -1;
    refreshSelection();
  });

  document.addEventListener("DOMContentLoaded", refreshSelection);
})();
