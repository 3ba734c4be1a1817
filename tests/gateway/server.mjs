#!/usr/bin/env node
/**
 * Conformance gateway: the official wechaty puppet-service server
 * (wechaty-puppet-service) backed by the official mock puppet
 * (wechaty-puppet-mock), serving plaintext gRPC on loopback so the python
 * bot can be tested against the real protocol.
 *
 * Usage:
 *   node server.mjs --port 8788 --token some-token
 *   (or env GATEWAY_PORT / GATEWAY_TOKEN; GATEWAY_STEP_MS sets the delay
 *   between scripted events, default 300)
 *
 * stdout carries only JSON lines (all library logging goes to stderr):
 *   {"event":"ready","port":...}         gRPC server is listening
 *   {"event":"puppet-start"} / {"event":"puppet-stop"}
 *   {"event":"login","id":"qingqun-bot"} the world was (re)built, bot logged in
 *   {"event":"bot-said","room":..,"to":..,"text":..,"mentions":[..],"id":..,"ts":..}
 *   {"event":"bot-sent","kind":"file"|"contact"|"url"|"mini-program"|"location",..}
 *     (a file carries "name", "mediaType", "size" and "sha256" of the bytes the gateway decoded)
 *   {"event":"script-step","step":"..."}
 *   {"event":"script-done"}
 *   {"event":"error","message":"..."}
 *
 * stdin takes one command per line:
 *   go    run the scripted world events (waits for login first)
 *   quit  stop the server and exit
 * EOF on stdin also stops the server, so the process never outlives its parent.
 */
import { createHash } from 'node:crypto'
import readline from 'node:readline'

// brolog (the wechaty logger) writes info/verbose to stdout via console.info /
// console.log. Route every console method to stderr so stdout stays pure JSON.
for (const name of ['log', 'info', 'debug', 'warn', 'trace']) {
  console[name] = (...args) => console.error(...args)
}

const { PuppetServer } = await import('wechaty-puppet-service')
const { PuppetMock, mock } = await import('wechaty-puppet-mock')
const PUPPET = await import('wechaty-puppet')

function emit (obj) {
  process.stdout.write(JSON.stringify(obj) + '\n')
}

function argValue (name) {
  const idx = process.argv.indexOf(`--${name}`)
  if (idx >= 0 && idx + 1 < process.argv.length) return process.argv[idx + 1]
  const prefixed = process.argv.find(a => a.startsWith(`--${name}=`))
  return prefixed ? prefixed.slice(name.length + 3) : undefined
}

const PORT = Number(argValue('port') ?? process.env.GATEWAY_PORT ?? 8788)
const TOKEN = argValue('token') ?? process.env.GATEWAY_TOKEN ?? 'qingqun-conformance-token'
const STEP_MS = Number(argValue('step-ms') ?? process.env.GATEWAY_STEP_MS ?? 300)
const LOG_LEVEL = process.env.GATEWAY_LOG_LEVEL ?? 'warn'

PUPPET.log.level(LOG_LEVEL)

const BOT_ID = 'qingqun-bot'

// ---------------------------------------------------------------- the world
const CONTACTS = [
  { id: BOT_ID, name: '清群助手' },
  { id: 'zhang', name: '张三' },
  { id: 'li', name: '李四' },
  { id: 'wang', name: '王五' },
  { id: 'zhao', name: '赵六' },
]

const ROOMS = [
  { id: 'r1@chatroom', topic: '黑龙潭镇党政办工作群', ownerId: 'zhang', memberIdList: [BOT_ID, 'zhang', 'li', 'wang'] },
  { id: 'r2@chatroom', topic: '2024年秋季征兵工作群', ownerId: 'li', memberIdList: [BOT_ID, 'li', 'zhang'] },
  { id: 'r3@chatroom', topic: '迎检临时群', ownerId: 'wang', memberIdList: [BOT_ID, 'wang', 'li', 'zhang', 'zhao'] },
  // The bot is not in r4 at login; the script invites it, so the bot greets the room.
  { id: 'r4@chatroom', topic: '2026年冬季征兵工作群', ownerId: 'zhang', memberIdList: ['zhang', 'li', 'zhao'] },
]

// GATEWAY_EXTRA_ROOM: a room the bot is in at login (it was added while the bot was away).
if (process.env.GATEWAY_EXTRA_ROOM) {
  ROOMS.push({ id: process.env.GATEWAY_EXTRA_ROOM, topic: '新店镇迎检群', ownerId: 'zhao', memberIdList: [BOT_ID, 'zhao', 'li'] })
}
// GATEWAY_SCAN=1: show a login QR code before logging in, as a real puppet does.
const SCAN = process.env.GATEWAY_SCAN === '1'
const QR_URL = 'https://login.weixin.qq.com/l/qingqun-conformance'

const mocker = new mock.Mocker()
const puppet = new PuppetMock({ mocker })

// Mock objects can only be created once per mocker (create() throws on a
// duplicate id), so build them once and reset their state on every start.
const contacts = {}
for (const c of CONTACTS) {
  contacts[c.id] = mocker.createContact({
    ...c,
    alias: '',
    avatar: '',
    friend: true,
    gender: PUPPET.types.ContactGender.Unknown,
    phone: [],
    type: PUPPET.types.Contact.Individual,
  })
}
const rooms = {}
for (const r of ROOMS) {
  rooms[r.id] = mocker.createRoom({
    id: r.id,
    topic: r.topic,
    ownerId: r.ownerId,
    memberIdList: [...r.memberIdList],
    adminIdList: [],
    avatar: '',
  })
}

function resetWorld () {
  // Mutate in place: the mocker cache and the puppet payload cache hold the
  // very same payload objects.
  for (const r of ROOMS) {
    const payload = rooms[r.id].payload
    payload.topic = r.topic
    payload.ownerId = r.ownerId
    payload.memberIdList.splice(0, payload.memberIdList.length, ...r.memberIdList)
  }
}

// ---------------------------------------------------------- the script
const sleep = ms => new Promise(resolve => setTimeout(resolve, ms))

const SCRIPT = [
  ['li says 收到 in r1', () => contacts.li.say('收到').to(rooms['r1@chatroom'])],
  ['zhang says 好的，明天上午开会 in r1', () => contacts.zhang.say('好的，明天上午开会').to(rooms['r1@chatroom'])],
  ['wang says 材料已报送 in r3', () => contacts.wang.say('材料已报送').to(rooms['r3@chatroom'])],
  ['zhang adds zhao to r1', () => rooms['r1@chatroom'].add(contacts.zhao).by(contacts.zhang)],
  ['li renames r2 to 2024年冬季征兵工作群', () => rooms['r2@chatroom'].topic('2024年冬季征兵工作群').by(contacts.li)],
  ['zhao says 大家好，我是赵六 in r1', () => contacts.zhao.say('大家好，我是赵六').to(rooms['r1@chatroom'])],
  ['zhang invites the bot to r4', () => rooms['r4@chatroom'].add(contacts[BOT_ID]).by(contacts.zhang)],
  ['li says 收到 in r4', () => contacts.li.say('收到').to(rooms['r4@chatroom'])],
]

// Bumped on every puppet start/stop so a running script from an old session stops.
let generation = 0
let loggedIn = false
let scriptRunning = false

async function waitForLogin (timeoutMs) {
  const deadline = Date.now() + timeoutMs
  while (!loggedIn) {
    if (Date.now() > deadline) throw new Error('bot is not logged in (no client started the puppet?)')
    await sleep(50)
  }
}

async function runScript () {
  if (scriptRunning) {
    emit({ event: 'error', message: 'script already running' })
    return
  }
  scriptRunning = true
  try {
    await waitForLogin(30_000)
    const myGeneration = generation
    for (const [step, action] of SCRIPT) {
      if (generation !== myGeneration) throw new Error('puppet restarted during the script')
      action()
      emit({ event: 'script-step', step })
      await sleep(STEP_MS)
    }
    emit({ event: 'script-done' })
  } catch (e) {
    emit({ event: 'error', message: `script failed: ${e.message}` })
  } finally {
    scriptRunning = false
  }
}

// Runs on every puppet start (the python client calls Stop then Start).
mocker.use(m => {
  generation++
  resetWorld()
  const login = () => {
    m.login(contacts[BOT_ID])
    loggedIn = true
    emit({ event: 'login', id: BOT_ID })
  }
  const timers = []
  if (SCAN) {
    // After the client's event stream is listening (a scan is not replayed, unlike a login).
    timers.push(setTimeout(() => {
      m.scan(QR_URL, PUPPET.types.ScanStatus.Waiting)
      emit({ event: 'scan', url: QR_URL })
      timers.push(setTimeout(login, 1000))
    }, 1000))
  } else {
    login()
  }
  return () => {
    for (const t of timers) clearTimeout(t)
    generation++
    loggedIn = false
  }
})

puppet.on('start', () => emit({ event: 'puppet-start' }))
puppet.on('stop', () => emit({ event: 'puppet-stop' }))

// ------------------------------------------- record what the bot sends
function conversationOf (conversationId) {
  return conversationId.includes('@')
    ? { room: conversationId, to: null }
    : { room: null, to: conversationId }
}

/**
 * Let the mock deliver the bot's message as the bot (so it is echoed back as
 * a 'message' event, like real puppets do) and return its id. The stock mock
 * returns no id and drops mentions; real puppets return the id.
 */
function sayAsBot (conversationId, something, mentionIdList = []) {
  if (!puppet.isLoggedIn) throw new Error('not logged in')
  const conversation = conversationId.includes('@')
    ? mocker.RoomMock.load(conversationId)
    : mocker.ContactMock.load(conversationId)
  const mentions = []
  for (const id of mentionIdList) {
    try { mentions.push(mocker.ContactMock.load(id)) } catch { /* unknown id: leave it out */ }
  }
  let messageId
  const grab = ({ messageId: id }) => { messageId = id }
  puppet.once('message', grab)
  try {
    contacts[BOT_ID].say(something, mentions).to(conversation)
  } finally {
    puppet.off('message', grab)
  }
  return messageId
}

puppet.messageSendText = async (conversationId, text, mentionIdList) => {
  const mentions = Array.isArray(mentionIdList) ? [...mentionIdList] : []
  const id = sayAsBot(conversationId, text, mentions)
  emit({ event: 'bot-said', ...conversationOf(conversationId), text, mentions, id, ts: Date.now() })
  return id
}

puppet.messageSendFile = async (conversationId, file) => {
  // The bytes as the gateway decoded them, so a test can tell the file arrived whole.
  const buffer = await file.toBuffer()
  const sha256 = createHash('sha256').update(buffer).digest('hex')
  const id = sayAsBot(conversationId, file)
  emit({
    event: 'bot-sent',
    kind: 'file',
    ...conversationOf(conversationId),
    name: file?.name ?? null,
    mediaType: file?.mediaType ?? null,
    size: buffer.length,
    sha256,
    id,
    ts: Date.now(),
  })
  return id
}

for (const [method, kind] of [
  ['messageSendContact', 'contact'],
  ['messageSendUrl', 'url'],
  ['messageSendMiniProgram', 'mini-program'],
  ['messageSendLocation', 'location'],
]) {
  puppet[method] = async (conversationId, payload) => {
    emit({ event: 'bot-sent', kind, ...conversationOf(conversationId), payload: payload ?? null, ts: Date.now() })
    return undefined
  }
}

// ----------------------------------------------------------- the server
const server = new PuppetServer({
  endpoint: `127.0.0.1:${PORT}`,
  puppet,
  token: TOKEN,
  tls: { disable: true },
})

let stopping = false
async function shutdown (code = 0) {
  if (stopping) return
  stopping = true
  const hardExit = setTimeout(() => process.exit(code), 3000)
  hardExit.unref()
  try { await server.stop() } catch (e) { console.error('server.stop()', e) }
  try { if (puppet.state.active()) await puppet.stop() } catch (e) { console.error('puppet.stop()', e) }
  process.exit(code)
}

process.on('SIGTERM', () => shutdown(0))
process.on('SIGINT', () => shutdown(0))
process.on('unhandledRejection', e => emit({ event: 'error', message: `unhandled rejection: ${e?.message ?? e}` }))

try {
  await server.start()
} catch (e) {
  emit({ event: 'error', message: `gateway failed to start on 127.0.0.1:${PORT}: ${e.message}` })
  process.exit(2)
}
emit({ event: 'ready', port: PORT })

const rl = readline.createInterface({ input: process.stdin })
rl.on('line', line => {
  const cmd = line.trim()
  if (cmd === 'go') runScript()
  else if (cmd === 'quit') shutdown(0)
  else if (cmd) emit({ event: 'error', message: `unknown command: ${cmd}` })
})
rl.on('close', () => shutdown(0))
