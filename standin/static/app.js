// The Mend sandbox page: Slack's surfaces, rendered from the stand-in's state.
//
// Safety: every piece of data (message text, case summaries, names, view titles) reaches
// the page through DOM text nodes (textContent, append of strings) or safe attributes
// (title, value, aria-label). Nothing from the server is ever parsed as HTML, and the
// page's Content-Security-Policy allows no inline script. Slack mrkdwn gets a small
// renderer that builds elements: *bold*, _italic_, ~strike~, `code`, ```blocks```,
// > quotes, line breaks, <@U…> / <#C…> mentions, <!date^…> tokens and links (as text).
"use strict";

(() => {
  const POLL_MS = 1000;
  const S = {
    user: null,
    where: null,
    data: null,
    rendered: {},
    modalValues: {},
    modalKey: null,
    inFlight: 0,
    polling: false,
    again: false,
    switches: 0,  // user switches and moves so far: an answer asked before the latest is dropped
  };

  const EMOJI = {
    white_check_mark: "\u2705", heavy_check_mark: "\u2714\ufe0f", warning: "\u26a0\ufe0f",
    tada: "\ud83c\udf89", link: "\ud83d\udd17", zzz: "\ud83d\udca4", unamused: "\ud83d\ude12",
    speech_balloon: "\ud83d\udcac", sob: "\ud83d\ude2d", slightly_frowning_face: "\ud83d\ude41",
    rotating_light: "\ud83d\udea8", repeat: "\ud83d\udd01", red_circle: "\ud83d\udd34",
    raising_hand: "\ud83d\ude4b", rage: "\ud83d\ude21", memory: "\ud83d\udcdd",
    memo: "\ud83d\udcdd", leftwards_arrow_with_hook: "\u21a9\ufe0f",
    large_yellow_circle: "\ud83d\udfe1", large_green_circle: "\ud83d\udfe2",
    black_circle: "\u26ab", white_circle: "\u26aa", face_with_symbols_on_mouth: "\ud83e\udd2c",
    disappointed: "\ud83d\ude1e", cry: "\ud83d\ude22", angry: "\ud83d\ude20",
    alarm_clock: "\u23f0", hourglass: "\u231b", hourglass_flowing_sand: "\u23f3",
    bell: "\ud83d\udd14", x: "\u274c", eyes: "\ud83d\udc40", wave: "\ud83d\udc4b",
    calendar: "\ud83d\udcc6", date: "\ud83d\udcc5", bar_chart: "\ud83d\udcca",
    chart_with_upwards_trend: "\ud83d\udcc8", inbox_tray: "\ud83d\udce5",
    outbox_tray: "\ud83d\udce4", point_right: "\ud83d\udc49", information_source: "\u2139\ufe0f",
    pushpin: "\ud83d\udccc", mag: "\ud83d\udd0d", lock: "\ud83d\udd12", "+1": "\ud83d\udc4d",
    "-1": "\ud83d\udc4e", pray: "\ud83d\ude4f", heart: "\u2764\ufe0f", smile: "\ud83d\ude04",
    slightly_smiling_face: "\ud83d\ude42", thinking_face: "\ud83e\udd14",
    clipboard: "\ud83d\udccb", email: "\ud83d\udce7", phone: "\u260e\ufe0f",
    package: "\ud83d\udce6", moneybag: "\ud83d\udcb0", credit_card: "\ud83d\udcb3",
    truck: "\ud83d\ude9a", gift: "\ud83c\udf81", sparkles: "\u2728", fire: "\ud83d\udd25",
    star: "\u2b50", busts_in_silhouette: "\ud83d\udc65", bust_in_silhouette: "\ud83d\udc64",
    exclamation: "\u2757", question: "\u2753", no_entry: "\u26d4", house: "\ud83c\udfe0",
    arrows_counterclockwise: "\ud83d\udd04", stopwatch: "\u23f1\ufe0f", sleeping: "\ud83d\ude34",
    handshake: "\ud83e\udd1d", envelope: "\u2709\ufe0f", new: "\ud83c\udd95",
    large_orange_circle: "\ud83d\udfe0", large_blue_circle: "\ud83d\udd35",
    large_purple_circle: "\ud83d\udfe3", large_red_circle: "\ud83d\udd34",
    sos: "\ud83c\udd98", wastebasket: "\ud83d\uddd1\ufe0f", thumbsup: "\ud83d\udc4d",
    thumbsdown: "\ud83d\udc4e", hourglass_done: "\u231b", orange_circle: "\ud83d\udfe0",
    blue_circle: "\ud83d\udd35", white_check: "\u2705", heavy_exclamation_mark: "\u2757",
  };
  const WORD = /[A-Za-z0-9]/;
  const SPACE = /\s/;

  // ------------------------------------------------------------------ DOM helpers

  const PROPS = new Set(["value", "checked", "type", "disabled", "hidden", "name", "title",
    "placeholder", "id", "htmlFor", "rows", "maxLength", "multiple", "selected", "required",
    "min", "max", "step"]);

  // Create an element. Strings become text nodes; attributes are set as text; event
  // handlers only from functions. No markup is ever parsed.
  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = String(value);
      else if (key === "dataset") Object.assign(node.dataset, value);
      else if (key.startsWith("on")) {
        if (typeof value === "function") node.addEventListener(key.slice(2), value);
      } else if (PROPS.has(key)) node[key] = value;
      else node.setAttribute(key, String(value));
    }
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  function clear(node) {
    node.replaceChildren();
    return node;
  }

  function toast(text, kind) {
    const box = el("div", { class: `toast ${kind || ""}`, role: "status", text });
    document.getElementById("toasts").append(box);
    setTimeout(() => box.remove(), 5000);
  }

  // ------------------------------------------------------------------ server

  async function api(path, body) {
    const response = await fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    let data = null;
    try {
      data = await response.json();
    } catch (err) {
      data = { ok: false, error: `HTTP ${response.status}` };
    }
    if (!response.ok) toast(`The sandbox refused that: ${data.error || response.status}`, "bad");
    return data;
  }

  // Run something the user did, then show its outcome at once.
  async function act(work) {
    S.inFlight += 1;
    try {
      return await work();
    } catch (err) {
      toast(`Something went wrong: ${err}`, "bad");
      return null;
    } finally {
      S.inFlight -= 1;
      await refresh(true);
    }
  }

  async function refresh(force) {
    if (S.polling) {
      if (force) S.again = true;  // the poll under way may predate what was just done
      return;
    }
    if (S.inFlight && !force) return;
    S.polling = true;
    try {
      const params = new URLSearchParams();
      const asked = { user: S.user, where: S.where, switches: S.switches };
      if (S.user) params.set("user", S.user);
      if (S.where) params.set("channel", S.where);
      let response = await fetch(`/ui/state?${params}`);
      if (S.switches !== asked.switches) {  // switched user or place meanwhile: that wins
        S.again = true;
        return;
      }
      if (response.status === 400 && S.user && S.where) {  // a place that is gone
        S.where = null;
        response = await fetch(`/ui/state?${new URLSearchParams({ user: S.user })}`);
      }
      if (response.status === 400) {  // a user that is gone: start over
        S.user = null;
        S.where = null;
        response = await fetch("/ui/state");
      }
      if (!response.ok) return;
      const data = await response.json();
      if (S.switches !== asked.switches) {  // switched while the answer was read
        S.again = true;
        return;
      }
      S.data = data;
      S.user = data.user;
      S.where = data.where;
      history.replaceState(null, "", `?user=${encodeURIComponent(S.user)}` +
        `&where=${encodeURIComponent(S.where)}`);
      render(data);
    } catch (err) {
      // The sandbox stopped or restarted; keep polling quietly.
    } finally {
      S.polling = false;
      if (S.again) {
        S.again = false;
        refresh(true);
      }
    }
  }

  // ------------------------------------------------------------------ names and time

  function me() {
    return (S.data.users || []).find((u) => u.id === S.user) || { tz: "UTC", real_name: "" };
  }

  function tz() {
    return me().tz || "UTC";
  }

  function userName(id) {
    if (S.data && id === S.data.app.bot_user_id) return S.data.app.name;
    const user = (S.data ? S.data.users : []).find((u) => u.id === id);
    return user ? (user.real_name || user.name) : id;
  }

  function channelName(id) {
    const channel = (S.data ? S.data.channels : []).find((c) => c.id === id);
    return channel ? channel.name : id;
  }

  function parts(date, zone) {
    const out = {};
    const format = new Intl.DateTimeFormat("en-US", {
      timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit",
      weekday: "long", hour: "numeric", minute: "2-digit", hour12: false,
    });
    for (const part of format.formatToParts(date)) out[part.type] = part.value;
    return out;
  }

  function dayKey(date, zone) {
    const p = parts(date, zone);
    return `${p.year}-${p.month}-${p.day}`;
  }

  function ordinal(n) {
    const mod100 = n % 100;
    if (mod100 >= 11 && mod100 <= 13) return `${n}th`;
    return n + ({ 1: "st", 2: "nd", 3: "rd" }[n % 10] || "th");
  }

  function fmt(date, zone, options) {
    return new Intl.DateTimeFormat("en-US", { timeZone: zone, ...options }).format(date);
  }

  function timeText(date, zone, secs) {
    return fmt(date, zone, { hour: "numeric", minute: "2-digit",
      second: secs ? "2-digit" : undefined });
  }

  function relativeDay(date, zone) {
    const now = new Date(S.data.now_ms);
    const key = dayKey(date, zone);
    if (key === dayKey(now, zone)) return "Today";
    if (key === dayKey(new Date(now.getTime() + 86400000), zone)) return "Tomorrow";
    if (key === dayKey(new Date(now.getTime() - 86400000), zone)) return "Yesterday";
    return null;
  }

  function ago(date) {
    const seconds = Math.round((date.getTime() - S.data.now_ms) / 1000);
    const abs = Math.abs(seconds);
    const units = [["day", 86400], ["hour", 3600], ["minute", 60]];
    for (const [unit, size] of units) {
      if (abs >= size) {
        const n = Math.round(abs / size);
        const text = `${n} ${unit}${n === 1 ? "" : "s"}`;
        return seconds < 0 ? `${text} ago` : `in ${text}`;
      }
    }
    return "just now";
  }

  // Slack's <!date^epoch^format|fallback>, in the reader's own timezone.
  function formatDateToken(epoch, format, zone) {
    const date = new Date(epoch * 1000);
    const p = parts(date, zone);
    const day = ordinal(Number(p.day));
    const longMonth = fmt(date, zone, { month: "long" });
    const shortMonth = fmt(date, zone, { month: "short" });
    const plain = {
      date_num: `${p.year}-${p.month}-${p.day}`,
      date: `${longMonth} ${day}, ${p.year}`,
      date_short: `${shortMonth} ${Number(p.day)}, ${p.year}`,
      date_long: `${p.weekday}, ${longMonth} ${day}, ${p.year}`,
    };
    const pretty = relativeDay(date, zone);
    const tokens = {
      ...plain,
      date_pretty: pretty || plain.date,
      date_short_pretty: pretty || plain.date_short,
      date_long_pretty: pretty || plain.date_long,
      time: timeText(date, zone, false),
      time_secs: timeText(date, zone, true),
      ago: ago(date),
    };
    return format.replace(/\{(\w+)\}/g, (whole, name) =>
      (Object.prototype.hasOwnProperty.call(tokens, name) ? tokens[name] : whole));
  }

  // ------------------------------------------------------------------ mrkdwn

  function decode(text) {
    return String(text).replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
  }

  function emojify(text) {
    return String(text).replace(/:([a-z0-9_+'-]+):/g,
      (whole, name) => EMOJI[name] || whole);
  }

  function angle(token) {
    const bar = token.indexOf("|");
    const target = bar >= 0 ? token.slice(0, bar) : token;
    const label = bar >= 0 ? decode(token.slice(bar + 1)) : "";
    if (target.startsWith("@")) {
      return el("span", { class: "mention", text: `@${label || userName(target.slice(1))}` });
    }
    if (target.startsWith("#")) {
      return el("span", { class: "mention channel",
        text: `#${label || channelName(target.slice(1))}` });
    }
    if (target.startsWith("!date^")) {
      const [, epoch, format] = target.split("^");
      const seconds = Number(epoch);
      if (!Number.isFinite(seconds) || !format) return el("span", { text: label });
      return el("time", {
        class: "date-token",
        datetime: new Date(seconds * 1000).toISOString(),
        title: `${label} (shown in ${tz()})`,
        text: formatDateToken(seconds, decode(format), tz()),
      });
    }
    if (target.startsWith("!subteam^")) {
      return el("span", { class: "mention", text: label || "@group" });
    }
    if (target.startsWith("!")) {
      const special = target.slice(1).split("^")[0];
      return el("span", { class: "mention", text: label || `@${special}` });
    }
    // A link: shown as text (with its address as a tooltip), never as a live link.
    const address = decode(target);
    return el("span", { class: "link", title: address, text: label || address });
  }

  function closing(text, start, mark) {
    if (start > 0 && WORD.test(text[start - 1])) return -1;
    const next = text[start + 1];
    if (next === undefined || SPACE.test(next) || next === mark) return -1;
    for (let j = start + 2; j < text.length; j++) {
      if (text[j] === mark && !SPACE.test(text[j - 1]) &&
          (j + 1 === text.length || !WORD.test(text[j + 1]))) return j;
    }
    return -1;
  }

  // One line of mrkdwn into `out`, as elements and text nodes.
  function inline(text, out) {
    let buffer = "";
    const flush = () => {
      if (buffer) out.append(decode(buffer));
      buffer = "";
    };
    let i = 0;
    while (i < text.length) {
      const c = text[i];
      if (c === "<") {
        const end = text.indexOf(">", i + 1);
        if (end > i + 1 && !text.slice(i + 1, end).includes("<")) {
          flush();
          out.append(angle(text.slice(i + 1, end)));
          i = end + 1;
          continue;
        }
      } else if (c === "`") {
        const end = text.indexOf("`", i + 1);
        if (end > i + 1) {
          flush();
          out.append(el("code", { text: decode(text.slice(i + 1, end)) }));
          i = end + 1;
          continue;
        }
      } else if (c === "*" || c === "_" || c === "~") {
        const end = closing(text, i, c);
        if (end > 0) {
          flush();
          const node = el(c === "*" ? "strong" : c === "_" ? "em" : "s");
          inline(text.slice(i + 1, end), node);
          out.append(node);
          i = end + 1;
          continue;
        }
      } else if (c === ":") {
        const match = /^:([a-z0-9_+'-]+):/.exec(text.slice(i));
        if (match && EMOJI[match[1]]) {
          buffer += EMOJI[match[1]];
          i += match[0].length;
          continue;
        }
      }
      buffer += c;
      i += 1;
    }
    flush();
  }

  function lines(text, root) {
    const all = text.split("\n");
    let quote = null;
    for (let k = 0; k < all.length; k++) {
      const line = all[k];
      let match = /^(?:&gt;&gt;&gt;|>>>) ?/.exec(line);
      if (match) {  // quote everything that follows
        const block = el("blockquote");
        [line.slice(match[0].length), ...all.slice(k + 1)].forEach((rest) => {
          const row = el("div", { class: "line" });
          inline(rest, row);
          block.append(row);
        });
        root.append(block);
        return;
      }
      match = /^(?:&gt;|>) ?/.exec(line);
      const row = el("div", { class: "line" });
      if (match) {
        if (!quote) {
          quote = el("blockquote");
          root.append(quote);
        }
        inline(line.slice(match[0].length), row);
        quote.append(row);
        continue;
      }
      quote = null;
      inline(line, row);
      root.append(row);
    }
  }

  function mrkdwn(text) {
    const root = el("div", { class: "mrkdwn" });
    const pieces = String(text || "").split("```");
    if (pieces.length % 2 === 0) {  // an unclosed fence is plain text
      const last = pieces.pop();
      pieces[pieces.length - 1] += "```" + last;
    }
    pieces.forEach((piece, index) => {
      if (index % 2 === 1) {
        root.append(el("pre", { class: "code-block", text: decode(piece.replace(/^\n/, "")) }));
      } else if (piece) {
        lines(piece, root);
      }
    });
    return root;
  }

  function textObject(object, className) {
    if (!object) return null;
    if (typeof object === "string") return el("span", { class: className, text: object });
    if (object.type === "mrkdwn") {
      const node = mrkdwn(object.text);
      if (className) node.classList.add(className);
      return node;
    }
    return el("span", { class: `plain ${className || ""}`, text: emojify(object.text || "") });
  }

  function plainText(object) {
    if (!object) return "";
    return object.type === "mrkdwn" ? decode(object.text || "") : emojify(object.text || "");
  }

  // ------------------------------------------------------------------ Block Kit

  // Slack's state for one element: what a submission or a click reports.
  function initialState(element) {
    const type = element.type;
    switch (type) {
      case "plain_text_input": case "email_text_input": case "url_text_input":
      case "number_input":
        return { type, value: element.initial_value ?? null };
      case "static_select": case "external_select": case "radio_buttons":
        return { type, selected_option: element.initial_option ?? null };
      case "multi_static_select": case "multi_external_select": case "checkboxes":
        return { type, selected_options: element.initial_options ?? [] };
      case "users_select":
        return { type, selected_user: element.initial_user ?? null };
      case "multi_users_select":
        return { type, selected_users: element.initial_users ?? [] };
      case "conversations_select":
        return { type, selected_conversation: element.initial_conversation ?? null };
      case "channels_select":
        return { type, selected_channel: element.initial_channel ?? null };
      case "datepicker":
        return { type, selected_date: element.initial_date ?? null };
      case "timepicker":
        return { type, selected_time: element.initial_time ?? null };
      case "datetimepicker":
        return { type, selected_date_time: element.initial_date_time ?? null };
      default:
        return null;
    }
  }

  function initialValues(blocks) {
    const values = {};
    for (const block of blocks || []) {
      const elements = block.type === "input" ? [block.element]
        : block.type === "actions" ? block.elements || []
          : block.accessory ? [block.accessory] : [];
      for (const element of elements) {
        const state = element && element.action_id ? initialState(element) : null;
        if (!state) continue;
        const blockId = block.block_id || "";
        values[blockId] = values[blockId] || {};
        values[blockId][element.action_id] = state;
      }
    }
    return values;
  }

  // The current state of an element (a modal's values, else its initial state).
  function current(ctx, block, element) {
    const held = ctx.values && ctx.values[block.block_id || ""];
    return (held && held[element.action_id]) || initialState(element) || {};
  }

  function remember(ctx, block, element, patch) {
    if (!ctx.values) return;
    const blockId = block.block_id || "";
    ctx.values[blockId] = ctx.values[blockId] || {};
    const state = { ...(current(ctx, block, element)), type: element.type, ...patch };
    ctx.values[blockId][element.action_id] = state;
  }

  // A change in an element: modal inputs only remember it; anything else is sent
  // to the app as block_actions.
  function changed(ctx, block, element, patch, quiet) {
    remember(ctx, block, element, patch);
    if (quiet) return;
    send(ctx, block, element, patch);
  }

  function send(ctx, block, element, selected) {
    const body = {
      user: S.user,
      source: ctx.source,
      action_id: element.action_id,
      block_id: block.block_id || null,
      value: element.type === "button" && element.value !== undefined ? element.value : null,
      selected: selected || null,
    };
    if (ctx.values) body.values = ctx.values;
    return act(() => api("/ui/action", body));
  }

  function optionLabel(option) {
    return plainText(option.text) + (option.description ? ` — ${plainText(option.description)}` : "");
  }

  function allOptions(element) {
    if (element.option_groups) {
      return element.option_groups.flatMap((group) => group.options || []);
    }
    return element.options || [];
  }

  function selectElement(ctx, block, element, quiet) {
    const type = element.type;
    const multi = type.startsWith("multi_");
    const state = current(ctx, block, element);
    const select = el("select", {
      class: "bk-select",
      multiple: multi,
      "aria-label": plainText(element.placeholder) || element.action_id,
      dataset: { actionId: element.action_id },
    });
    let choices = [];
    const isUsers = type.includes("users_select");
    const isChannels = type.includes("channels_select") || type.includes("conversations_select");
    if (isUsers) {
      choices = S.data.users.map((u) => ({ value: u.id, label: u.real_name || u.name }));
    } else if (isChannels) {
      choices = S.data.channels.map((c) => ({ value: c.id, label: `#${c.name}` }));
    } else {
      choices = allOptions(element).map((o) => ({ value: o.value, label: optionLabel(o), option: o }));
    }
    const chosen = new Set();
    if (isUsers) {
      (multi ? state.selected_users || [] : [state.selected_user]).forEach((v) => v && chosen.add(v));
    } else if (type.includes("conversations_select")) {
      (multi ? state.selected_conversations || [] : [state.selected_conversation])
        .forEach((v) => v && chosen.add(v));
    } else if (isChannels) {
      (multi ? state.selected_channels || [] : [state.selected_channel])
        .forEach((v) => v && chosen.add(v));
    } else {
      (multi ? state.selected_options || [] : [state.selected_option])
        .forEach((o) => o && chosen.add(o.value));
    }
    if (!multi) {
      select.append(el("option", { value: "", disabled: true, selected: chosen.size === 0,
        text: plainText(element.placeholder) || "Select…" }));
    }
    for (const choice of choices) {
      select.append(el("option", { value: choice.value, selected: chosen.has(choice.value),
        text: choice.label }));
    }
    select.addEventListener("change", () => {
      const picked = [...select.selectedOptions].map((o) => o.value).filter(Boolean);
      let patch;
      if (isUsers) {
        patch = multi ? { selected_users: picked } : { selected_user: picked[0] || null };
      } else if (type.includes("conversations_select")) {
        patch = multi ? { selected_conversations: picked }
          : { selected_conversation: picked[0] || null };
      } else if (isChannels) {
        patch = multi ? { selected_channels: picked } : { selected_channel: picked[0] || null };
      } else {
        const options = choices.filter((c) => picked.includes(c.value)).map((c) => c.option);
        patch = multi ? { selected_options: options } : { selected_option: options[0] || null };
      }
      changed(ctx, block, element, patch, quiet);
    });
    return select;
  }

  let uniqueNames = 0;

  function choiceList(ctx, block, element, quiet) {
    const radio = element.type === "radio_buttons";
    const state = current(ctx, block, element);
    const name = `choice-${uniqueNames += 1}`;
    const chosen = new Set(radio ? (state.selected_option ? [state.selected_option.value] : [])
      : (state.selected_options || []).map((o) => o.value));
    const box = el("div", { class: `bk-choices ${element.type}`, role: radio ? "radiogroup" : "group" });
    const inputs = [];
    for (const option of element.options || []) {
      const input = el("input", { type: radio ? "radio" : "checkbox", name,
        value: option.value, checked: chosen.has(option.value) });
      inputs.push([input, option]);
      const label = el("label", { class: "bk-choice" }, input,
        el("span", { class: "bk-choice-text" }, textObject(option.text)),
        option.description ? textObject(option.description, "bk-choice-description") : null);
      box.append(label);
      input.addEventListener("change", () => {
        const picked = inputs.filter(([i]) => i.checked).map(([, o]) => o);
        const patch = radio ? { selected_option: picked[0] || null } : { selected_options: picked };
        changed(ctx, block, element, patch, quiet);
      });
    }
    return box;
  }

  function textInput(ctx, block, element) {
    const state = current(ctx, block, element);
    const props = {
      class: "bk-input",
      value: state.value ?? "",
      placeholder: plainText(element.placeholder),
      "aria-label": block.label ? plainText(block.label) : element.action_id,
    };
    if (element.max_length) props.maxLength = element.max_length;
    let input;
    if (element.type === "plain_text_input" && element.multiline) {
      input = el("textarea", { ...props, rows: 3 });
    } else {
      const type = { email_text_input: "email", url_text_input: "url",
        number_input: "number" }[element.type] || "text";
      input = el("input", { ...props, type });
    }
    input.addEventListener("input", () => remember(ctx, block, element,
      { value: input.value === "" ? null : input.value }));
    return input;
  }

  function button(ctx, block, element) {
    const style = element.style ? ` ${element.style}` : "";
    const node = el("button", { type: "button", class: `bk-button${style}`,
      text: plainText(element.text), dataset: { actionId: element.action_id || "" } });
    if (element.url) node.title = element.url;
    node.addEventListener("click", () => {
      if (element.confirm && !window.confirm(`${plainText(element.confirm.title)}\n\n` +
          `${plainText(element.confirm.text)}`)) return;
      send(ctx, block, element, null);
    });
    return node;
  }

  function overflow(ctx, block, element) {
    const select = el("select", { class: "bk-select overflow", "aria-label": "More actions" });
    select.append(el("option", { value: "", text: "\u22ef", selected: true }));
    for (const option of element.options || []) {
      select.append(el("option", { value: option.value, text: plainText(option.text) }));
    }
    select.addEventListener("change", () => {
      const option = (element.options || []).find((o) => o.value === select.value);
      if (option) send(ctx, block, element, { selected_option: option });
    });
    return select;
  }

  function picker(ctx, block, element, quiet) {
    const state = current(ctx, block, element);
    const kinds = { datepicker: ["date", "selected_date"], timepicker: ["time", "selected_time"] };
    const [type, key] = kinds[element.type];
    const input = el("input", { type, class: "bk-input bk-picker", value: state[key] || "",
      "aria-label": (block.label && plainText(block.label)) || element.action_id });
    input.addEventListener("change", () =>
      changed(ctx, block, element, { [key]: input.value || null }, quiet));
    return input;
  }

  // One interactive (or image) element. `quiet`: inside a modal's input block.
  function element(ctx, block, e, quiet) {
    if (!e) return null;
    switch (e.type) {
      case "button": return button(ctx, block, e);
      case "static_select": case "external_select": case "users_select":
      case "conversations_select": case "channels_select": case "multi_static_select":
      case "multi_external_select": case "multi_users_select":
      case "multi_conversations_select": case "multi_channels_select":
        return selectElement(ctx, block, e, quiet);
      case "overflow": return overflow(ctx, block, e);
      case "checkboxes": case "radio_buttons": return choiceList(ctx, block, e, quiet);
      case "datepicker": case "timepicker": return picker(ctx, block, e, quiet);
      case "plain_text_input": case "email_text_input": case "url_text_input":
      case "number_input":
        return textInput(ctx, block, e);
      case "image":
        return el("span", { class: "bk-image", title: e.image_url || "",
          text: `[image: ${e.alt_text || ""}]` });
      default:
        return el("span", { class: "bk-unknown", text: `[${e.type}]` });
    }
  }

  function richText(block) {
    const box = el("div", { class: "block rich-text" });
    const walk = (node, into) => {
      for (const item of node.elements || []) {
        if (item.type === "text") {
          const style = item.style || {};
          let span = el("span", { text: item.text || "" });
          if (style.bold) span = el("strong", {}, span);
          if (style.italic) span = el("em", {}, span);
          if (style.code) span = el("code", {}, span);
          into.append(span);
        } else if (item.type === "user") into.append(angle(`@${item.user_id}`));
        else if (item.type === "channel") into.append(angle(`#${item.channel_id}`));
        else if (item.type === "link") into.append(el("span", { class: "link",
          title: item.url, text: item.text || item.url }));
        else if (item.type === "emoji") into.append(EMOJI[item.name] || `:${item.name}:`);
        else if (item.elements) {
          const tag = item.type === "rich_text_quote" ? "blockquote"
            : item.type === "rich_text_preformatted" ? "pre" : "div";
          const child = el(tag);
          walk(item, child);
          into.append(child);
        }
      }
    };
    walk(block, box);
    return box;
  }

  function renderBlock(ctx, block) {
    const id = block.block_id ? { blockId: block.block_id } : undefined;
    switch (block.type) {
      case "section": {
        const node = el("div", { class: "block section", dataset: id });
        const main = el("div", { class: "section-main" });
        if (block.text) main.append(textObject(block.text, "section-text"));
        if (block.fields) {
          main.append(el("div", { class: "fields" },
            block.fields.map((f) => el("div", { class: "field" }, textObject(f)))));
        }
        node.append(main);
        if (block.accessory) {
          node.append(el("div", { class: "accessory" }, element(ctx, block, block.accessory, false)));
        }
        return node;
      }
      case "context":
        return el("div", { class: "block context", dataset: id },
          (block.elements || []).map((e) => (e.type === "image"
            ? el("span", { class: "bk-image", text: `[${e.alt_text || "image"}]` })
            : textObject(e, "context-item"))));
      case "header":
        return el("div", { class: "block header", role: "heading", "aria-level": "3",
          dataset: id, text: plainText(block.text) });
      case "divider":
        return el("hr", { class: "block divider" });
      case "actions":
        return el("div", { class: "block actions", dataset: id },
          (block.elements || []).map((e) => element(ctx, block, e, false)));
      case "input": {
        const error = ctx.errors && ctx.errors[block.block_id];
        const node = el("div", { class: `block input${error ? " has-error" : ""}`, dataset: id });
        node.append(el("div", { class: "input-label" }, plainText(block.label),
          block.optional ? el("span", { class: "optional", text: " (optional)" }) : null));
        node.append(element(ctx, block, block.element, !block.dispatch_action));
        if (block.hint) node.append(el("div", { class: "hint", text: plainText(block.hint) }));
        if (error) node.append(el("div", { class: "input-error", role: "alert", text: error }));
        return node;
      }
      case "image":
        return el("div", { class: "block image", dataset: id },
          block.title ? el("div", { class: "image-title", text: plainText(block.title) }) : null,
          el("span", { class: "bk-image", title: block.image_url || "",
            text: `[image: ${block.alt_text || ""}]` }));
      case "rich_text":
        return richText(block);
      default:
        return el("div", { class: "block unknown", text: `[${block.type} block]` });
    }
  }

  function renderBlocks(blocks, ctx) {
    return el("div", { class: "blocks" }, (blocks || []).map((b) => renderBlock(ctx, b)));
  }

  // ------------------------------------------------------------------ messages

  function avatar(author) {
    const letter = (author.name || "?").trim().charAt(0).toUpperCase() || "?";
    return el("div", { class: `avatar${author.bot ? " bot" : ""}`, "aria-hidden": "true",
      text: letter });
  }

  function messageNode(msg) {
    const source = msg.ephemeral ? { kind: "ephemeral", id: msg.id, channel: S.where }
      : { kind: "message", ts: msg.ts, channel: S.where };
    const ctx = { surface: "message", source, values: null, errors: null };
    const meta = el("div", { class: "meta" },
      el("span", { class: "author", text: msg.author.name }),
      msg.author.bot ? el("span", { class: "badge", text: "APP" }) : null,
      el("time", { class: "time", text: timeText(new Date(msg.shown_ms), tz(), false),
        title: fmt(new Date(msg.shown_ms), tz(), { dateStyle: "full", timeStyle: "short" }) }),
      msg.edited && !msg.author.bot ? el("span", { class: "edited", text: "(edited)" }) : null);
    const body = el("div", { class: "message-body" }, meta);
    if (msg.ephemeral) {
      body.append(el("div", { class: "ephemeral-note" },
        el("span", { text: "Only visible to you" }),
        el("button", { type: "button", class: "link-button", text: "Dismiss",
          onclick: () => act(() => api("/ui/dismiss", { user: S.user, id: msg.id })) })));
    }
    if (msg.blocks && msg.blocks.length) body.append(renderBlocks(msg.blocks, ctx));
    else body.append(mrkdwn(msg.text));
    for (const file of msg.files || []) {
      body.append(el("div", { class: "file" },
        el("span", { class: "file-name", text: file.title || file.name || file.id }),
        el("a", { class: "file-download", text: "Download",
          href: `/ui/files/${encodeURIComponent(file.id)}?user=${encodeURIComponent(S.user)}`,
          download: "" })));
    }
    if (msg.replies && msg.replies.length) {
      const count = msg.replies.filter((r) => !r.ephemeral).length;
      body.append(el("div", { class: "thread", role: "group", "aria-label": "Thread" },
        el("div", { class: "thread-title",
          text: `${count} ${count === 1 ? "reply" : "replies"}` }),
        msg.replies.map(messageNode)));
    }
    return el("div", {
      class: `message${msg.ephemeral ? " ephemeral" : ""}`,
      dataset: msg.ephemeral ? { ephemeral: msg.id } : { ts: msg.ts },
    }, avatar(msg.author), body);
  }

  function renderMessages(data) {
    const box = document.getElementById("messages");
    const nearBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 80;
    const switched = box.dataset.where !== `${data.user}/${data.where}`;
    clear(box);
    box.dataset.where = `${data.user}/${data.where}`;
    if (!data.messages.length) {
      box.append(el("div", { class: "empty",
        text: data.where.startsWith("D") ? "No messages from the app yet."
          : "Nothing here yet. Type a command below." }));
    }
    for (const msg of data.messages) box.append(messageNode(msg));
    if (nearBottom || switched) box.scrollTop = box.scrollHeight;
  }

  function renderHome(data) {
    const box = clear(document.getElementById("home"));
    if (!data.home) {
      box.append(el("div", { class: "empty", text: "The app has not published a Home tab " +
        "for you yet." }));
      return;
    }
    const ctx = { surface: "home", source: { kind: "home" }, values: null, errors: null };
    box.append(renderBlocks(data.home.blocks, ctx));
  }

  // ------------------------------------------------------------------ modal

  function renderModal(data) {
    const root = document.getElementById("modal-root");
    const modal = data.modal;
    if (!modal) {
      clear(root);
      S.modalKey = null;
      return;
    }
    const view = modal.view;
    const key = `${view.id}/${view.hash}`;
    if (S.modalKey !== key) {
      S.modalKey = key;
      S.modalValues = { [key]: initialValues(view.blocks) };
    }
    const ctx = { surface: "modal", source: { kind: "view", id: view.id },
      values: S.modalValues[key], errors: modal.errors || {} };
    const close = () => act(() => api("/ui/close", { user: S.user, view_id: view.id }));
    const submit = (event) => {
      event.target.disabled = true;  // one submission per click, as in Slack
      return act(() => api("/ui/submit", { user: S.user, view_id: view.id, values: ctx.values }))
        .finally(() => { event.target.disabled = false; });
    };
    const dialog = el("div", { class: "modal", role: "dialog", "aria-modal": "true",
      "aria-labelledby": "modal-title", dataset: { viewId: view.id } },
    el("div", { class: "modal-head" },
      el("h2", { id: "modal-title", text: plainText(view.title) }),
      el("button", { type: "button", class: "modal-x", "aria-label": "Close", text: "\u00d7",
        onclick: close })),
    modal.notice ? el("div", { class: "modal-notice", role: "alert", text: modal.notice }) : null,
    el("div", { class: "modal-body" }, renderBlocks(view.blocks, ctx)),
    el("div", { class: "modal-foot" },
      el("button", { type: "button", class: "bk-button", text: plainText(view.close) || "Cancel",
        onclick: close }),
      view.submit ? el("button", { type: "button", class: "bk-button primary modal-submit",
        text: plainText(view.submit), onclick: submit }) : null));
    const backdrop = el("div", { class: "modal-backdrop" }, dialog);
    backdrop.addEventListener("keydown", (event) => {
      if (event.key === "Escape") close();
    });
    const focused = document.activeElement && root.contains(document.activeElement)
      ? document.activeElement.getAttribute("aria-label") : null;
    clear(root).append(backdrop);
    // Keep the keyboard where it was; a new modal starts at its first field.
    const again = focused && [...dialog.querySelectorAll("[aria-label]")]
      .find((node) => node.getAttribute("aria-label") === focused);
    const first = dialog.querySelector(".modal-body input, .modal-body textarea, " +
      ".modal-body select, .modal-body button") || dialog.querySelector(".modal-x");
    (again || first).focus();
  }

  // ------------------------------------------------------------------ frame

  function renderTop(data) {
    const user = me();
    const now = new Date(data.now_ms);
    const ahead = data.offset_seconds;
    const aheadText = ahead >= 60 ? ` · ${formatSpan(ahead)} ahead of real time` : "";
    const clock = clear(document.getElementById("clock"));
    clock.append(el("span", { class: "clock-time", id: "clock-time",
      text: fmt(now, user.tz, { weekday: "short", month: "short", day: "numeric",
        hour: "numeric", minute: "2-digit" }) }),
    el("span", { class: "clock-zone", text: ` ${user.real_name}'s time (${user.tz})${aheadText}` }));
    const skips = clear(document.getElementById("skips"));
    if (data.skips.length) skips.append(el("span", { class: "skips-label", text: "Skip ahead:" }));
    for (const choice of data.skips) {
      skips.append(el("button", { type: "button", class: "skip", text: choice.label,
        dataset: { skip: choice.key },
        onclick: () => act(async () => {
          const result = await api("/ui/skip", { user: S.user, by: choice.key });
          if (result && result.ok) {
            const sweep = result.sweep || {};
            toast(`Skipped ahead to ${fmt(new Date(result.now), tz(), { weekday: "short",
              hour: "numeric", minute: "2-digit" })}; the scheduler ran` +
              (sweep.planned ? ` and planned ${sweep.planned} nudge(s).` : "."));
          }
        }) }));
    }
    const switcher = document.getElementById("user-switcher");
    const option = (u) => el("option", { value: u.id, selected: u.id === data.user,
      text: `${u.real_name || u.name}${u.roles.length ? ` (${u.roles.join(", ")})` : ""} · ${u.tz}` });
    const teams = data.teams || [];
    if (teams.length > 1) {  // several workspaces: people grouped by their own
      clear(switcher).append(...teams.map((t) => el("optgroup", { label: t.name },
        ...data.users.filter((u) => u.team === t.id).map(option))));
    } else {
      clear(switcher).append(...data.users.map(option));
    }
    document.getElementById("team-name").textContent = data.team.name;
    const split = document.getElementById("split-link");
    split.hidden = teams.length < 2 || window.top !== window;
  }

  function formatSpan(seconds) {
    const days = Math.floor(seconds / 86400);
    const hours = Math.floor((seconds % 86400) / 3600);
    const minutes = Math.floor((seconds % 3600) / 60);
    return [days ? `${days}d` : "", hours ? `${hours}h` : "", !days && minutes ? `${minutes}m` : ""]
      .filter(Boolean).join(" ") || "0m";
  }

  function renderSidebar(data) {
    const list = clear(document.getElementById("channel-list"));
    for (const channel of data.channels) {
      list.append(el("li", {}, el("button", { type: "button",
        class: `nav-item${data.where === channel.id ? " active" : ""}`,
        "aria-current": data.where === channel.id ? "page" : null,
        text: `${channel.private ? "\ud83d\udd12" : "#"} ${channel.name}`,
        onclick: () => go(channel.id) })));
    }
    const apps = clear(document.getElementById("app-list"));
    const inApp = data.where === "home" || data.where === `D${data.user}`;
    apps.append(el("li", {}, el("button", { type: "button",
      class: `nav-item${inApp ? " active" : ""}`, text: data.app.name,
      onclick: () => go("home") })));
  }

  function renderHeader(data) {
    const header = clear(document.getElementById("conversation-header"));
    const tabs = document.getElementById("app-tabs");
    const inApp = data.where === "home" || data.where === `D${data.user}`;
    if (inApp) {
      header.append(el("h1", { text: data.app.name }));
      clear(tabs).append(
        el("button", { type: "button", role: "tab", class: `tab${data.where === "home" ? " active" : ""}`,
          "aria-selected": String(data.where === "home"), text: "Home", onclick: () => go("home") }),
        el("button", { type: "button", role: "tab", class: `tab${data.where !== "home" ? " active" : ""}`,
          "aria-selected": String(data.where !== "home"), text: "Messages",
          onclick: () => go(`D${data.user}`) }));
      tabs.hidden = false;
    } else {
      header.append(el("h1", { text: `#${channelName(data.where)}` }));
      tabs.hidden = true;
    }
    const home = data.where === "home";
    document.getElementById("home").hidden = !home;
    document.getElementById("messages").hidden = home;
    document.getElementById("composer").hidden = home;
    document.getElementById("composer-hint").hidden = home;
  }

  function changedPart(name, value) {
    const text = JSON.stringify(value);
    if (S.rendered[name] === text) return false;
    S.rendered[name] = text;
    return true;
  }

  function render(data) {
    const who = { user: data.user, where: data.where };
    if (changedPart("top", [data.now_ms - (data.now_ms % 60000), data.offset_seconds,
      data.users, data.skips, data.user, data.team])) renderTop(data);
    if (changedPart("side", [who, data.channels, data.app])) {
      renderSidebar(data);
      renderHeader(data);
    }
    if (data.where === "home") {
      if (changedPart("home", [who, data.home, data.users, data.now_ms - (data.now_ms % 60000)])) {
        renderHome(data);
      }
      S.rendered.messages = null;
    } else {
      if (changedPart("messages", [who, data.messages, data.users,
        data.now_ms - (data.now_ms % 60000)])) renderMessages(data);
      S.rendered.home = null;
    }
    if (changedPart("modal", [data.user, data.modal])) renderModal(data);
  }

  async function go(where) {
    S.where = where;
    S.switches += 1;  // a status refresh already under way must not take us back
    if (where === "home") {
      await act(() => api("/ui/home", { user: S.user }));  // Slack: app_home_opened
    } else {
      await refresh(true);
    }
  }

  // ------------------------------------------------------------------ start

  function start() {
    const params = new URLSearchParams(location.search);
    S.user = params.get("user");
    S.where = params.get("where");
    document.getElementById("user-switcher").addEventListener("change", (event) => {
      S.user = event.target.value;
      S.switches += 1;  // a status refresh already under way must not undo this
      const next = ((S.data && S.data.users) || []).find((u) => u.id === S.user);
      const elsewhere = next && S.data.team && next.team && next.team !== S.data.team.id;
      if (elsewhere && S.where !== "home") S.where = null;  // that workspace's channels
      if (S.where && S.where.startsWith("D")) S.where = `D${S.user}`;
      if (S.where === "home") go("home");
      else refresh(true);
    });
    const input = document.getElementById("composer-input");
    const composer = document.getElementById("composer");
    composer.addEventListener("submit", (event) => {
      event.preventDefault();
      const text = input.value.trim();
      if (!text) return;
      input.value = "";
      act(() => api("/ui/send", { user: S.user, channel: S.where, text }));
    });
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && !event.shiftKey) {
        event.preventDefault();
        composer.requestSubmit();
      }
    });
    refresh(true);
    setInterval(() => refresh(false), POLL_MS);
  }

  document.addEventListener("DOMContentLoaded", start);
})();
