// The reference backend's Node client (its write-up, "Opción 1: Script Node.js"), unchanged
// except that the token and the server URL come from the environment.
const io = require('socket.io-client');

// Obtén un token JWT primero (desde login endpoint)
const TOKEN = process.env.TOKEN || 'your-jwt-token-here';
const WS_URL = process.env.WS_URL || 'http://localhost:3000';

const socket = io(WS_URL, {
  auth: {
    token: TOKEN,
  },
  // Alternativamente, puedes usar headers:
  // extraHeaders: {
  //   Authorization: `Bearer ${TOKEN}`,
  // },
});

socket.on('connect', () => {
  console.log('✅ Connected to WebSocket server');
  console.log('Socket ID:', socket.id);
});

socket.on('disconnect', () => {
  console.log('❌ Disconnected from WebSocket server');
});

socket.on('connect_error', (error) => {
  console.error('❌ Connection error:', error.message);
});

// Listen for order events
socket.on('order.new', (data) => {
  console.log('📦 New order:', JSON.stringify(data, null, 2));
});

socket.on('order.status.changed', (data) => {
  console.log('🔄 Order status changed:', JSON.stringify(data, null, 2));
});

socket.on('order.item.status.changed', (data) => {
  console.log('🍽️  Item status changed:', JSON.stringify(data, null, 2));
});

// Keep connection alive
setInterval(() => {
  console.log('💓 Heartbeat - still connected');
}, 30000);
