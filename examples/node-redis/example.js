// A simple request/response web application (the source documents' demo), speaking the
// redis protocol directly so that it needs no npm package and runs offline.
var http = require('http');
var net = require('net');

// `redis` is the link alias of the container that runs the redis server.
var REDIS_HOST = process.env.REDIS_HOST || 'redis';
var REDIS_PORT = parseInt(process.env.REDIS_PORT_6379_TCP_PORT || '6379', 10);

// A minimal RESP client: one command at a time, replies parsed for the types we use.
function redisCommand(args, callback) {
  var sock = net.createConnection(REDIS_PORT, REDIS_HOST);
  var msg = '*' + args.length + '\r\n';
  args.forEach(function (a) { msg += '$' + Buffer.byteLength(a) + '\r\n' + a + '\r\n'; });
  var buf = Buffer.alloc(0);
  sock.on('connect', function () { sock.write(msg); });
  sock.on('data', function (chunk) {
    buf = Buffer.concat([buf, chunk]);
    var reply = parseReply(buf);
    if (reply !== undefined) { sock.end(); callback(null, reply.value); }
  });
  sock.on('error', function (err) { callback(err); });
}

// Returns {value} once a whole reply is in `buf`, undefined while more is needed.
function parseReply(buf) {
  var end = buf.indexOf('\r\n');
  if (end < 0) return undefined;
  var type = String.fromCharCode(buf[0]);
  var line = buf.slice(1, end).toString();
  if (type === '+' || type === ':') return { value: line };
  if (type === '-') return { value: new Error(line) };
  if (type === '$') {
    var len = parseInt(line, 10);
    if (len < 0) return { value: null };
    if (buf.length < end + 2 + len + 2) return undefined;
    return { value: buf.slice(end + 2, end + 2 + len).toString() };
  }
  return { value: null };
}

// Set the key value pairs; redis may still be starting, so retry for a while.
var keys = [
  ['/', 'Welcome to Docker-Compose helper\nEnter the docker-compose command in the URL for help\n'],
  ['/build', 'Build or rebuild services'],
  ['/kill', 'Kill contianers']
];
function seed(attempt) {
  var pending = keys.length, failed = false;
  keys.forEach(function (kv) {
    redisCommand(['SET', kv[0], kv[1]], function (err) {
      if (err) failed = true;
      if (--pending === 0) {
        if (!failed) console.log('Keys set in redis');
        else if (attempt < 100) setTimeout(function () { seed(attempt + 1); }, 200);
        else console.log('Could not reach redis at ' + REDIS_HOST + ':' + REDIS_PORT);
      }
    });
  });
}
seed(0);

var server = http.createServer(function (request, response) {
  var href = request.url;
  response.writeHead(200, { 'Content-Type': 'text/plain' });
  // Pull the response (value) string using the URL.
  redisCommand(['GET', href], function (err, reply) {
    if (err || reply == null) response.write('Command: ' + href.slice(1) + ' not supported\n');
    else response.write(reply + '\n');
    response.end();
  });
});

console.log('Listening on port 80');
server.listen(80);
