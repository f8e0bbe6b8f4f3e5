export function App() {
  return <h1>Opendream</h1>
}
