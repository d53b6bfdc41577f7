/* Mitra support console: login, hand-off queue and conversation pages.
 *
 * Plain JavaScript, no build step and nothing from the internet (the CSP is
 * default-src 'self'). Every text that came from a partner (or from the backend) is put
 * on the page with textContent, never as HTML. The JSON API is docs/contracts.md,
 * "Hand-off to a person": session cookie + X-CSRF-Token on every state-changing call.
 */
(function () {
  'use strict';

  var API = '/console/api';
  var LOGIN_PATH = '/console/login';
  var QUEUE_POLL_MS = 3000;
  var CHAT_POLL_MS = 2000;
  var MAX_REPLY = 4096;

  var csrfToken = null;
  var currentUser = null;

  // ---- small helpers ---------------------------------------------------------------

  /** el('div', {className: 'x', dataset: {testid: 'y'}}, 'text', child...) */
  function el(tag, attrs) {
    var node = document.createElement(tag);
    var key;
    attrs = attrs || {};
    for (key in attrs) {
      if (!Object.prototype.hasOwnProperty.call(attrs, key)) continue;
      var value = attrs[key];
      if (value === null || value === undefined || value === false) continue;
      if (key === 'className') node.className = value;
      else if (key === 'text') node.textContent = String(value);
      else if (key === 'dataset') {
        for (var d in value) {
          if (Object.prototype.hasOwnProperty.call(value, d)) node.dataset[d] = String(value[d]);
        }
      } else if (key === 'href') node.setAttribute('href', value);
      else node.setAttribute(key, value === true ? '' : String(value));
    }
    for (var i = 2; i < arguments.length; i++) {
      var child = arguments[i];
      if (child === null || child === undefined || child === false) continue;
      node.appendChild(typeof child === 'string' ? document.createTextNode(child) : child);
    }
    return node;
  }

  function byId(id) {
    return document.getElementById(id);
  }

  function setText(node, text) {
    if (node) node.textContent = text === null || text === undefined ? '' : String(text);
  }

  function show(node, visible) {
    if (node) node.hidden = !visible;
  }

  function showMessage(node, text) {
    setText(node, text || '');
    show(node, !!text);
  }

  function redirectToLogin() {
    var here = location.pathname + location.search;
    var target = LOGIN_PATH;
    if (here.indexOf('/console') === 0 && here.indexOf(LOGIN_PATH) !== 0) {
      target += '?next=' + encodeURIComponent(here);
    }
    location.replace(target);
  }

  /** Only a path of this console may be a post-login target (no open redirect). */
  function safeNext(value) {
    if (!value || value.charAt(0) !== '/' || value.charAt(1) === '/' || value.charAt(1) === '\\') {
      return '/console';
    }
    if (value !== '/console' && value.indexOf('/console/') !== 0) return '/console';
    if (value.indexOf(LOGIN_PATH) === 0) return '/console';
    return value;
  }

  function UnauthorizedError() {
    this.name = 'UnauthorizedError';
    this.message = 'not signed in';
  }

  /**
   * fetch the JSON API. Resolves {status, ok, data}; a 401 goes to the login page
   * (unless opts.allow401) and rejects with UnauthorizedError.
   */
  function api(method, path, body, opts) {
    opts = opts || {};
    var headers = { Accept: 'application/json' };
    var init = { method: method, headers: headers, credentials: 'same-origin', cache: 'no-store' };
    if (method !== 'GET' && method !== 'HEAD') {
      if (csrfToken) headers['X-CSRF-Token'] = csrfToken;
      if (body !== undefined) {
        headers['Content-Type'] = 'application/json';
        init.body = JSON.stringify(body);
      }
    }
    return fetch(API + path, init).then(function (response) {
      if (response.status === 401 && !opts.allow401) {
        redirectToLogin();
        throw new UnauthorizedError();
      }
      return response.text().then(function (raw) {
        var data = null;
        if (raw) {
          try {
            data = JSON.parse(raw);
          } catch (err) {
            data = null;
          }
        }
        return { status: response.status, ok: response.ok, data: data };
      });
    });
  }

  function detailOf(result, fallback) {
    var detail = result && result.data && result.data.detail;
    if (typeof detail === 'string' && detail) return detail;
    if (Array.isArray(detail) && detail.length && detail[0] && detail[0].msg) {
      return String(detail[0].msg);
    }
    return fallback;
  }

  /** Repeats task() (which returns a promise) every `ms` after the previous run ended. */
  function poll(task, ms) {
    var timer = null;
    var stopped = false;
    function run() {
      timer = null;
      Promise.resolve()
        .then(task)
        .catch(function (err) {
          if (err instanceof UnauthorizedError) stopped = true;
        })
        .then(function () {
          if (!stopped) timer = setTimeout(run, ms);
        });
    }
    run();
    return {
      now: function () {
        if (timer !== null) {
          clearTimeout(timer);
          run();
        }
      },
      stop: function () {
        stopped = true;
        if (timer !== null) clearTimeout(timer);
      },
    };
  }

  // ---- formatting ------------------------------------------------------------------

  var LANGUAGES = { id: 'Bahasa Indonesia', en: 'English' };
  var REASONS = {
    requested: 'Asked for a person',
    misunderstood: 'Bot did not understand',
    after_hours: 'After hours',
  };
  var STATUSES = { waiting: 'Waiting', active: 'Active', closed: 'Handed back', cancelled: 'Cancelled' };
  var ROLES = {
    retailer: 'Retailer',
    wholesaler: 'Wholesaler',
    distributor: 'Distributor',
    field_seller: 'Field seller',
  };

  function languageName(code) {
    if (!code) return 'unknown';
    return (LANGUAGES[code] || String(code)) + ' (' + code + ')';
  }

  function titleCase(value) {
    var text = String(value || '').replace(/_/g, ' ');
    return text ? text.charAt(0).toUpperCase() + text.slice(1) : '';
  }

  function parseTime(value) {
    if (!value) return null;
    var date = new Date(value);
    return isNaN(date.getTime()) ? null : date;
  }

  function pad(n) {
    return n < 10 ? '0' + n : String(n);
  }

  function formatDuration(ms) {
    var seconds = Math.max(0, Math.floor(ms / 1000));
    if (seconds < 60) return seconds + ' s';
    var minutes = Math.floor(seconds / 60);
    if (minutes < 60) return minutes + ' min';
    var hours = Math.floor(minutes / 60);
    if (hours < 48) return hours + ' h ' + pad(minutes % 60) + ' min';
    return Math.floor(hours / 24) + ' d ' + (hours % 24) + ' h';
  }

  function formatTime(value) {
    var date = parseTime(value);
    if (!date) return '';
    var now = new Date();
    var time = pad(date.getHours()) + ':' + pad(date.getMinutes());
    if (date.toDateString() === now.toDateString()) return time;
    return date.toLocaleDateString(undefined, { day: 'numeric', month: 'short' }) + ' ' + time;
  }

  function formatDate(value) {
    var date = parseTime(value);
    if (!date) return value ? String(value) : '';
    return date.toLocaleDateString(undefined, { day: 'numeric', month: 'short', year: 'numeric' });
  }

  function formatPoints(value) {
    var n = Number(value);
    if (!isFinite(n)) return String(value);
    return n.toLocaleString('id-ID') + ' pts';
  }

  function mediaLabel(media) {
    var type = media && media.type;
    if (type === 'image') return '📷 photo';
    if (type === 'document') return '📄 document';
    if (type === 'audio') return '🎤 voice note';
    if (type === 'video') return '🎬 video';
    if (type === 'location') return '📍 location';
    if (type === 'sticker') return '🙂 sticker';
    return '📎 ' + (type || 'attachment');
  }

  // ---- shared page chrome ----------------------------------------------------------

  /** GET /me: the signed-in agent and the CSRF token; 401 goes to the login page. */
  function loadMe() {
    return api('GET', '/me').then(function (result) {
      if (!result.ok) throw new Error('me: HTTP ' + result.status);
      rememberSession(result.data);
      return currentUser;
    });
  }

  function rememberSession(data) {
    data = data || {};
    currentUser = data.user || (data.email ? data : null);
    if (data.csrf_token) csrfToken = data.csrf_token;
    var who = byId('who');
    if (who && currentUser) {
      setText(who, (currentUser.name || currentUser.email) + (currentUser.role === 'admin' ? ' (admin)' : ''));
      who.title = currentUser.email || '';
      show(who, true);
    }
  }

  function wireLogout() {
    var button = byId('logout');
    if (!button) return;
    button.addEventListener('click', function () {
      button.disabled = true;
      api('POST', '/logout', undefined, { allow401: true })
        .catch(function () {
          return null;
        })
        .then(function () {
          csrfToken = null;
          location.replace(LOGIN_PATH);
        });
    });
  }

  // ---- login page ------------------------------------------------------------------

  function loginPage() {
    var form = byId('login-form');
    var email = byId('email');
    var password = byId('password');
    var submit = byId('login-submit');
    var error = byId('login-error');
    var next = safeNext(new URLSearchParams(location.search).get('next'));
    wireLogout();

    // Already signed in? Offer the queue and the logout button (it is on every page).
    api('GET', '/me', undefined, { allow401: true })
      .then(function (result) {
        if (result.ok && result.data) {
          rememberSession(result.data);
          show(byId('logout'), true);
          show(byId('to-queue'), true);
        }
      })
      .catch(function () {});

    form.addEventListener('submit', function (event) {
      event.preventDefault();
      showMessage(error, '');
      if (!email.value.trim() || !password.value) {
        showMessage(error, 'Enter your email and password.');
        return;
      }
      submit.disabled = true;
      api('POST', '/login', { email: email.value.trim(), password: password.value }, { allow401: true })
        .then(function (result) {
          if (result.ok) {
            rememberSession(result.data);
            location.assign(next);
            return;
          }
          password.value = '';
          if (result.status === 401) {
            showMessage(error, 'Wrong email or password.');
          } else if (result.status === 423) {
            showMessage(
              error,
              'This account is locked: ' +
                detailOf(result, 'too many failed sign-ins; try again in 15 minutes.')
            );
          } else if (result.status === 422) {
            showMessage(error, 'Enter a valid email and password.');
          } else if (result.status === 429) {
            showMessage(error, detailOf(result, 'Too many attempts. Wait a moment and try again.'));
          } else {
            showMessage(error, detailOf(result, 'Sign-in failed (HTTP ' + result.status + ').'));
          }
          password.focus();
        })
        .catch(function () {
          showMessage(error, 'Cannot reach the console. Check the connection and try again.');
        })
        .then(function () {
          submit.disabled = false;
        });
    });
    email.focus();
  }

  // ---- queue page ------------------------------------------------------------------

  function queueRow(item, now) {
    var requested = parseTime(item.requested_at);
    var waited = requested ? formatDuration(now - requested.getTime()) : '';
    var claimed = item.claimed_by
      ? 'Claimed by ' + (currentUser && item.claimed_by.id === currentUser.id ? 'you' : item.claimed_by.name)
      : 'Unclaimed';
    var link = el(
      'a',
      {
        className: 'queue-item status-' + (item.status || 'waiting'),
        href: '/console/chats/' + encodeURIComponent(item.id),
        dataset: { testid: 'queue-item', waId: item.wa_id, handoffId: item.id, status: item.status },
      },
      el(
        'div',
        { className: 'col-partner' },
        el('div', { className: 'name', text: item.partner_name || item.wa_id }),
        el('div', { className: 'sub', text: [item.shop_name, item.wa_id].filter(Boolean).join(' · ') })
      ),
      el(
        'div',
        { className: 'col-tier' },
        el('span', { className: 'badge tier', text: titleCase(item.tier) || '—' }),
        ' ',
        el('span', { className: 'badge lang', title: languageName(item.language), text: item.language || '?' })
      ),
      el(
        'div',
        { className: 'col-last' },
        el('div', { className: 'sub', text: REASONS[item.reason] || titleCase(item.reason) }),
        el('div', { className: 'last', text: item.last_message ? '“' + item.last_message + '”' : '—' })
      ),
      el(
        'div',
        { className: 'col-wait' },
        el('div', { className: 'wait', dataset: { testid: 'waiting-time' }, text: waited }),
        el('div', { className: 'sub', text: 'since asked' })
      ),
      el(
        'div',
        { className: 'col-status' },
        el('span', { className: 'badge ' + (item.status || ''), text: STATUSES[item.status] || titleCase(item.status) }),
        el('div', { className: 'sub', dataset: { testid: 'claimed-by' }, text: claimed })
      )
    );
    return el('li', null, link);
  }

  function queuePage() {
    var list = byId('queue');
    var empty = byId('queue-empty');
    var summary = byId('queue-summary');
    var updated = byId('updated');
    var error = byId('queue-error');
    wireLogout();

    function refresh() {
      return api('GET', '/handoffs').then(
        function (result) {
          if (!result.ok) {
            showMessage(error, detailOf(result, 'Could not load the queue (HTTP ' + result.status + ').'));
            return;
          }
          showMessage(error, '');
          var items = (result.data && result.data.items) || [];
          var now = Date.now();
          var rows = items.map(function (item) {
            return queueRow(item, now);
          });
          list.replaceChildren.apply(list, rows);
          show(empty, items.length === 0);
          var waiting = items.filter(function (item) {
            return item.status === 'waiting';
          }).length;
          setText(summary, waiting + ' waiting · ' + (items.length - waiting) + ' active');
          document.title = (waiting ? '(' + waiting + ') ' : '') + 'Queue — Mitra support console';
          setText(updated, 'Updated ' + new Date().toLocaleTimeString());
        },
        function (err) {
          if (err instanceof UnauthorizedError) throw err;
          showMessage(error, 'Connection lost; retrying…');
        }
      );
    }

    loadMe()
      .then(function () {
        poll(refresh, QUEUE_POLL_MS);
      })
      .catch(function (err) {
        if (!(err instanceof UnauthorizedError)) showMessage(error, 'Could not load your session.');
      });
  }

  // ---- chat page -------------------------------------------------------------------

  function chatPage() {
    var match = /^\/console\/chats\/([^/]+)\/?$/.exec(location.pathname);
    var handoffId = match ? decodeURIComponent(match[1]) : null;
    var state = {
      handoff: null,
      transcriptKey: null,
      firstTranscript: true,
      lastPartnerAt: null, // the partner's last message in the transcript (Date)
      canned: [],
      sending: false,
      busy: false,
    };

    var ui = {
      title: byId('partner-title'),
      status: byId('status'),
      language: byId('head-language'),
      claimedBy: byId('claimed-by'),
      error: byId('chat-error'),
      windowWarning: byId('window-warning'),
      note: byId('state-note'),
      transcript: byId('transcript'),
      composer: byId('composer'),
      canned: byId('canned'),
      replyLanguage: byId('reply-language'),
      count: byId('count'),
      reply: byId('reply'),
      send: byId('send'),
      claim: byId('claim'),
      handBack: byId('hand-back'),
      profile: byId('profile'),
      claims: byId('claims'),
      redemptions: byId('redemptions'),
    };
    wireLogout();

    // On a phone the side cards start folded so the conversation stays in view.
    if (window.matchMedia && window.matchMedia('(max-width: 900px)').matches) {
      ['profile-card', 'claims-card', 'redemptions-card'].forEach(function (id) {
        var card = byId(id);
        if (card) card.open = false;
      });
    }

    if (!handoffId) {
      showMessage(ui.error, 'No such chat.');
      return;
    }

    function isMine(handoff) {
      return !!(handoff && handoff.claimed_by && currentUser && handoff.claimed_by.id === currentUser.id);
    }

    function isOpen(handoff) {
      return !!handoff && (handoff.status === 'waiting' || handoff.status === 'active');
    }

    function partnerLanguage() {
      var h = state.handoff || {};
      return (h.partner && h.partner.language) || h.language || 'id';
    }

    function renderControls() {
      var h = state.handoff;
      var mine = isMine(h);
      var open = isOpen(h);
      var canReply = open && mine && h.status === 'active';
      ui.claim.disabled = !open || mine || state.busy;
      setText(ui.claim, mine && open ? 'Claimed by you' : 'Claim chat');
      ui.handBack.disabled = !canReply || state.busy;
      ui.reply.disabled = !canReply;
      ui.canned.disabled = !canReply || state.canned.length === 0;
      ui.send.disabled = !canReply || state.sending || !ui.reply.value.trim();
      ui.reply.placeholder = canReply
        ? 'Reply in ' + (LANGUAGES[partnerLanguage()] || partnerLanguage()) + '…'
        : open
          ? 'Claim the chat to reply'
          : 'This hand-off is over';
      var length = ui.reply.value.length;
      setText(ui.count, length + ' / ' + MAX_REPLY);
    }

    function renderHandoff() {
      var h = state.handoff;
      if (!h) return;
      var partner = h.partner || {};
      var name = partner.name || h.partner_name || h.wa_id;
      setText(ui.title, name);
      document.title = name + ' — Mitra support console';
      ui.status.className = 'badge ' + (h.status || '');
      setText(ui.status, STATUSES[h.status] || titleCase(h.status));
      var lang = partnerLanguage();
      setText(ui.language, languageName(lang));
      setText(ui.replyLanguage, 'Partner writes in ' + (LANGUAGES[lang] || lang));
      if (h.claimed_by) {
        setText(ui.claimedBy, 'Claimed by ' + (isMine(h) ? 'you' : h.claimed_by.name));
      } else {
        setText(ui.claimedBy, h.status === 'waiting' ? 'Waiting for an agent' : '');
      }
      renderWindow();

      var note = '';
      if (h.status === 'closed') note = 'This chat was handed back to the bot.';
      else if (h.status === 'cancelled') note = 'The partner went back to the bot; this hand-off is over.';
      else if (h.status === 'waiting') note = 'Claim the chat to answer; the bot stays paused meanwhile.';
      else if (h.status === 'active' && !isMine(h) && h.claimed_by) {
        note = h.claimed_by.name + ' is answering this partner.';
      }
      showMessage(ui.note, note);

      renderProfile(h, partner);
      renderHistory(ui.claims, h.recent_claims, 'No recent claims.', claimLine);
      renderHistory(ui.redemptions, h.recent_redemptions, 'No recent redemptions.', redemptionLine);
      renderControls();
    }

    /** WhatsApp's 24-hour window: the detail says, and a newer partner message reopens it. */
    function renderWindow() {
      var h = state.handoff;
      var recent = state.lastPartnerAt && Date.now() - state.lastPartnerAt.getTime() < 24 * 3600 * 1000;
      show(ui.windowWarning, !!h && isOpen(h) && h.window_open === false && !recent);
    }

    function balanceText(balance) {
      if (balance === null || balance === undefined) return '—';
      if (typeof balance === 'object') {
        var available = balance.available_points !== undefined ? balance.available_points : balance.available;
        var text = formatPoints(available);
        if (balance.expiring_soon_points) text += ' (' + formatPoints(balance.expiring_soon_points) + ' expiring soon)';
        return text;
      }
      return formatPoints(balance);
    }

    function renderProfile(h, partner) {
      var facts = [
        ['Name', partner.name || h.partner_name],
        ['Shop', partner.shop || partner.shop_name || h.shop_name],
        ['WhatsApp', h.wa_id],
        ['Role', ROLES[partner.role] || titleCase(partner.role)],
        ['Region', partner.region],
        ['Tier', titleCase(partner.tier || h.tier)],
        ['Balance', balanceText(partner.balance)],
        ['Language', languageName(partner.language || h.language)],
        ['Reason', REASONS[h.reason] || titleCase(h.reason)],
        ['Asked at', formatTime(h.requested_at)],
        ['Last message', formatTime(h.last_partner_message_at)],
      ];
      var nodes = [];
      facts.forEach(function (fact) {
        if (fact[1] === undefined || fact[1] === null || fact[1] === '') return;
        var key = fact[0].toLowerCase().replace(/\s+/g, '-');
        nodes.push(el('dt', { text: fact[0] }));
        nodes.push(el('dd', { dataset: { testid: 'profile-' + key }, text: fact[1] }));
      });
      ui.profile.replaceChildren.apply(ui.profile, nodes);
    }

    function pick(item, keys) {
      for (var i = 0; i < keys.length; i++) {
        var value = item[keys[i]];
        if (value !== undefined && value !== null && value !== '') return value;
      }
      return null;
    }

    function claimLine(item) {
      var kind = pick(item, ['kind', 'type']);
      var reference = pick(item, ['invoice_no', 'claim_no', 'reference', 'title']);
      var points = pick(item, ['points', 'points_awarded', 'awarded_points']);
      return [
        (kind ? titleCase(kind) : 'Claim') + ' ' + (reference || (item.id ? '#' + item.id : '')),
        pick(item, ['status']),
        points !== null ? formatPoints(points) : null,
        formatDate(pick(item, ['submitted_at', 'created_at', 'date'])),
      ];
    }

    function redemptionLine(item) {
      var reward = pick(item, ['reward_name', 'reward_title', 'title', 'reward', 'name']);
      if (reward && typeof reward === 'object') reward = reward.name || reward.title || '';
      var points = pick(item, ['points', 'points_cost', 'cost_points', 'points_spent']);
      return [
        reward || pick(item, ['redemption_no']) || 'Redemption #' + (item.id || ''),
        pick(item, ['status']),
        points !== null ? formatPoints(points) : null,
        formatDate(pick(item, ['created_at', 'requested_at', 'date'])),
      ];
    }

    function renderHistory(list, items, emptyText, line) {
      if (!Array.isArray(items) || items.length === 0) {
        list.replaceChildren(el('li', { className: 'muted', text: emptyText }));
        return;
      }
      list.replaceChildren.apply(
        list,
        items.map(function (item) {
          var parts = line(item || {});
          return el(
            'li',
            null,
            el('span', { className: 'h-title', text: parts[0] }),
            parts[1] ? el('span', { className: 'badge', text: titleCase(parts[1]) }) : null,
            parts[2] ? el('span', { text: parts[2] }) : null,
            parts[3] ? el('span', { className: 'muted', text: parts[3] }) : null
          );
        })
      );
    }

    function messageNode(message) {
      var from = message.from || 'system';
      var node = el('div', {
        className: 'msg from-' + from,
        dataset: { testid: 'message', from: from },
      });
      if (from === 'system') {
        node.appendChild(el('div', { className: 'text', text: message.text || '' }));
        if (message.timestamp) node.appendChild(el('div', { className: 'time', text: formatTime(message.timestamp) }));
        return node;
      }
      var who = from === 'partner' ? 'Partner' : from === 'bot' ? 'Bot' : 'Agent';
      if (from === 'agent' && message.agent_name) who = message.agent_name + ' (agent)';
      node.appendChild(el('div', { className: 'who', text: who }));
      if (message.media) {
        node.appendChild(el('div', { className: 'media', dataset: { testid: 'media' }, text: mediaLabel(message.media) }));
      }
      // "[location]", "[audio]"... only repeat what the media line already says.
      var placeholder = message.media && message.text === '[' + message.media.type + ']';
      if (message.text && !placeholder) node.appendChild(el('div', { className: 'text', text: message.text }));
      if (Array.isArray(message.buttons) && message.buttons.length) {
        node.appendChild(
          el.apply(
            null,
            ['div', { className: 'chips', 'aria-label': 'Buttons' }].concat(
              message.buttons.map(function (title) {
                return el('span', { className: 'chip', dataset: { testid: 'chip' }, text: title });
              })
            )
          )
        );
      }
      if (message.timestamp) node.appendChild(el('div', { className: 'time', text: formatTime(message.timestamp) }));
      return node;
    }

    function renderTranscript(messages) {
      var key = JSON.stringify(messages);
      if (key === state.transcriptKey) return;
      state.transcriptKey = key;
      var box = ui.transcript;
      var atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
      if (!messages.length) {
        box.replaceChildren(el('p', { className: 'transcript-empty', text: 'No messages yet.' }));
      } else {
        box.replaceChildren.apply(box, messages.map(messageNode));
      }
      if (atBottom || state.firstTranscript) box.scrollTop = box.scrollHeight;
      state.firstTranscript = false;
      state.lastPartnerAt = null;
      messages.forEach(function (message) {
        var at = message.from === 'partner' ? parseTime(message.timestamp) : null;
        if (at && (!state.lastPartnerAt || at > state.lastPartnerAt)) state.lastPartnerAt = at;
      });
      renderWindow();
    }

    function loadHandoff() {
      return api('GET', '/handoffs/' + encodeURIComponent(handoffId)).then(function (result) {
        if (result.status === 404) {
          showMessage(ui.error, 'This hand-off does not exist.');
          return;
        }
        if (!result.ok) {
          showMessage(ui.error, detailOf(result, 'Could not load the hand-off (HTTP ' + result.status + ').'));
          return;
        }
        state.handoff = result.data;
        renderHandoff();
      });
    }

    /**
     * The queue has the status and agent of every open hand-off. Polling it, rather than
     * the detail (each read of which is an audited "opened the chat"), notices another
     * agent's claim and the end of the hand-off; the detail is read again only then.
     */
    function checkStatus() {
      return api('GET', '/handoffs').then(function (result) {
        var h = state.handoff;
        if (!result.ok || !h) return null;
        var items = (result.data && result.data.items) || [];
        var current = null;
        items.forEach(function (item) {
          if (String(item.id) === String(handoffId)) current = item;
        });
        if (!current) return isOpen(h) ? loadHandoff() : null;
        var agentOf = function (x) {
          return x.claimed_by ? String(x.claimed_by.id) : '';
        };
        if (current.status !== h.status || agentOf(current) !== agentOf(h)) return loadHandoff();
        return null;
      });
    }

    function loadTranscript() {
      return api('GET', '/handoffs/' + encodeURIComponent(handoffId) + '/transcript').then(function (result) {
        if (!result.ok) return;
        renderTranscript((result.data && result.data.messages) || []);
      });
    }

    function loadCanned() {
      return api('GET', '/canned-replies').then(function (result) {
        if (!result.ok) return;
        state.canned = (result.data && result.data.items) || [];
        var options = [el('option', { value: '', text: 'Insert…' })];
        state.canned.forEach(function (item, index) {
          options.push(el('option', { value: String(index), text: item.title || item.key }));
        });
        ui.canned.replaceChildren.apply(ui.canned, options);
        renderControls();
      });
    }

    function insertText(text) {
      var box = ui.reply;
      var start = box.selectionStart === undefined ? box.value.length : box.selectionStart;
      var end = box.selectionEnd === undefined ? box.value.length : box.selectionEnd;
      var before = box.value.slice(0, start);
      var after = box.value.slice(end);
      var glue = before && !/\s$/.test(before) ? ' ' : '';
      box.value = (before + glue + text + after).slice(0, MAX_REPLY);
      var caret = Math.min(before.length + glue.length + text.length, box.value.length);
      box.focus();
      box.setSelectionRange(caret, caret);
      renderControls();
    }

    ui.canned.addEventListener('change', function () {
      var item = state.canned[Number(ui.canned.value)];
      ui.canned.value = '';
      if (!item || !item.text) return;
      var lang = partnerLanguage();
      insertText(item.text[lang] || item.text.id || item.text.en || '');
    });

    ui.reply.addEventListener('input', renderControls);
    ui.reply.addEventListener('keydown', function (event) {
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        if (!ui.send.disabled) sendReply();
      }
    });
    ui.composer.addEventListener('submit', function (event) {
      event.preventDefault();
      sendReply();
    });

    function sendReply() {
      var text = ui.reply.value;
      if (!text.trim() || state.sending) return;
      state.sending = true;
      showMessage(ui.error, '');
      renderControls();
      api('POST', '/handoffs/' + encodeURIComponent(handoffId) + '/messages', { text: text })
        .then(function (result) {
          if (result.ok) {
            if (ui.reply.value === text) ui.reply.value = '';
            return Promise.all([loadTranscript(), loadHandoff()]);
          }
          if (result.status === 409) {
            showMessage(ui.error, detailOf(result, 'Claim the chat before replying.'));
            return loadHandoff();
          }
          if (result.status === 422) {
            showMessage(ui.error, detailOf(result, 'A reply must not be blank or longer than 4096 characters.'));
            return null;
          }
          showMessage(ui.error, detailOf(result, 'The reply was not sent (HTTP ' + result.status + ').'));
          return null;
        })
        .catch(function (err) {
          if (!(err instanceof UnauthorizedError)) showMessage(ui.error, 'The reply was not sent: connection lost.');
        })
        .then(function () {
          state.sending = false;
          renderControls();
        });
    }

    ui.claim.addEventListener('click', function () {
      state.busy = true;
      showMessage(ui.error, '');
      renderControls();
      api('POST', '/handoffs/' + encodeURIComponent(handoffId) + '/claim')
        .then(function (result) {
          if (result.ok) {
            return loadHandoff().then(function () {
              ui.reply.focus();
            });
          }
          if (result.status === 409) {
            showMessage(ui.error, detailOf(result, 'Another agent has already claimed this chat.'));
          } else {
            showMessage(ui.error, detailOf(result, 'Could not claim the chat (HTTP ' + result.status + ').'));
          }
          return loadHandoff();
        })
        .catch(function (err) {
          if (!(err instanceof UnauthorizedError)) showMessage(ui.error, 'Could not claim the chat: connection lost.');
        })
        .then(function () {
          state.busy = false;
          renderControls();
        });
    });

    ui.handBack.addEventListener('click', function () {
      state.busy = true;
      showMessage(ui.error, '');
      renderControls();
      api('POST', '/handoffs/' + encodeURIComponent(handoffId) + '/hand-back')
        .then(function (result) {
          if (!result.ok) {
            showMessage(ui.error, detailOf(result, 'Could not hand the chat back (HTTP ' + result.status + ').'));
          }
          return Promise.all([loadHandoff(), loadTranscript()]);
        })
        .catch(function (err) {
          if (!(err instanceof UnauthorizedError)) showMessage(ui.error, 'Could not hand back: connection lost.');
        })
        .then(function () {
          state.busy = false;
          renderControls();
        });
    });

    loadMe()
      .then(function () {
        renderControls();
        loadCanned().catch(function () {});
        return loadHandoff().then(function () {
          poll(function () {
            return Promise.all([checkStatus(), loadTranscript()]);
          }, CHAT_POLL_MS);
        });
      })
      .catch(function (err) {
        if (!(err instanceof UnauthorizedError)) showMessage(ui.error, 'Could not load your session.');
      });
  }

  // ---- start -----------------------------------------------------------------------

  function start() {
    var page = document.body.getAttribute('data-page');
    if (page === 'login') loginPage();
    else if (page === 'queue') queuePage();
    else if (page === 'chat') chatPage();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
