package tandem;

import java.io.BufferedReader;
import java.io.FileOutputStream;
import java.io.InputStreamReader;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.Signature;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.security.spec.MGF1ParameterSpec;
import java.security.spec.PKCS8EncodedKeySpec;
import java.security.spec.PSSParameterSpec;
import java.util.Base64;
import java.util.HashMap;
import java.util.Map;

import quickfix.*;
import quickfix.field.*;

/**
 * The gateway's test client: QuickFIX/J as an initiator, driven line by line from stdin
 * (tab-separated commands, see README of tests/fix) and reporting every message it receives
 * or sends at the session level as one JSON line on stdout.
 *
 * Args: key=value pairs: host, port, sender (the API key id), target (KalshiRT, KalshiNR,
 * KalshiMD), key (PKCS#8 PEM of the API key), cert (the gateway's certificate, PEM, trusted),
 * store (directory of QuickFIX/J's file store: sequence numbers survive a restart of this
 * program), reset (Y: ResetSeqNumFlag on Logon), cod (Y: CancelOrdersOnDisconnect).
 */
public class FixClient implements Application {
    private final PrivateKey key;
    private final boolean cancelOnDisconnect;
    private volatile SessionID session;

    FixClient(PrivateKey key, boolean cancelOnDisconnect) {
        this.key = key;
        this.cancelOnDisconnect = cancelOnDisconnect;
    }

    static synchronized void emit(String event, Message message) {
        StringBuilder b = new StringBuilder("{\"event\":\"").append(event).append('"');
        if (message != null) {
            b.append(",\"raw\":\"");
            for (char c : message.toString().toCharArray()) {
                if (c == '"' || c == '\\') b.append('\\').append(c);
                else if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
                else b.append(c);
            }
            b.append('"');
        }
        System.out.println(b.append('}'));
        System.out.flush();
    }

    // ------------------------------------------------------------------ Application
    public void onCreate(SessionID id) { session = id; }
    public void onLogon(SessionID id) { emit("logon", null); }
    public void onLogout(SessionID id) { emit("logout", null); }

    public void toAdmin(Message message, SessionID id) {
        try {
            if (message.getHeader().getString(MsgType.FIELD).equals(MsgType.LOGON)) {
                // Kalshi's Logon: RawData = RSA-PSS SHA-256 over SendingTime|MsgType|MsgSeqNum|SenderCompID|TargetCompID
                Message.Header h = message.getHeader();
                String payload = String.join("\u0001", h.getString(SendingTime.FIELD), "A", h.getString(MsgSeqNum.FIELD),
                        h.getString(SenderCompID.FIELD), h.getString(TargetCompID.FIELD));
                Signature signer = Signature.getInstance("RSASSA-PSS");
                signer.setParameter(new PSSParameterSpec("SHA-256", "MGF1", MGF1ParameterSpec.SHA256, 32, 1));
                signer.initSign(key);
                signer.update(payload.getBytes(StandardCharsets.US_ASCII));
                String signature = Base64.getEncoder().encodeToString(signer.sign());
                message.setInt(RawDataLength.FIELD, signature.length());
                message.setString(RawData.FIELD, signature);
                if (cancelOnDisconnect) message.setString(8013, "Y");
            }
        } catch (Exception e) {
            throw new RuntimeException(e);
        }
        emit("sent", message);
    }

    public void fromAdmin(Message message, SessionID id) { emit("admin", message); }
    public void toApp(Message message, SessionID id) {}
    public void fromApp(Message message, SessionID id) { emit("app", message); }

    // ------------------------------------------------------------------ commands
    void send(Message m) throws SessionNotFound { Session.sendToTarget(m, session); }

    void command(String[] c) throws Exception {
        switch (c[0]) {
            case "order": {  // order CLORDID SYMBOL SIDE QTY PRICE [TIF]
                quickfix.fix50sp2.NewOrderSingle m = new quickfix.fix50sp2.NewOrderSingle(
                        new ClOrdID(c[1]), new Side(c[3].charAt(0)), new TransactTime(), new OrdType(OrdType.LIMIT));
                m.set(new Symbol(c[2]));
                m.set(new OrderQty(Double.parseDouble(c[4])));
                m.set(new Price(Double.parseDouble(c[5])));
                if (c.length > 6) m.set(new TimeInForce(c[6].charAt(0)));
                send(m);
                break;
            }
            case "cancel": {  // cancel CLORDID ORIGCLORDID SYMBOL SIDE
                quickfix.fix50sp2.OrderCancelRequest m = new quickfix.fix50sp2.OrderCancelRequest(
                        new ClOrdID(c[1]), new Side(c[4].charAt(0)), new TransactTime());
                m.set(new OrigClOrdID(c[2]));
                m.set(new Symbol(c[3]));
                send(m);
                break;
            }
            case "replace": {  // replace CLORDID ORIGCLORDID SYMBOL SIDE QTY PRICE
                quickfix.fix50sp2.OrderCancelReplaceRequest m = new quickfix.fix50sp2.OrderCancelReplaceRequest(
                        new ClOrdID(c[1]), new Side(c[4].charAt(0)), new TransactTime(), new OrdType(OrdType.LIMIT));
                m.set(new OrigClOrdID(c[2]));
                m.set(new Symbol(c[3]));
                m.set(new OrderQty(Double.parseDouble(c[5])));
                m.set(new Price(Double.parseDouble(c[6])));
                send(m);
                break;
            }
            case "masscancel": {  // masscancel CLORDID [SYMBOL]
                quickfix.fix50sp2.OrderMassCancelRequest m = new quickfix.fix50sp2.OrderMassCancelRequest(
                        new ClOrdID(c[1]), new MassCancelRequestType(c.length > 2 ? '1' : '7'), new TransactTime());
                if (c.length > 2) m.set(new Symbol(c[2]));
                send(m);
                break;
            }
            case "md": {  // md REQID SYMBOL: snapshot + updates of the book
                quickfix.fix50sp2.MarketDataRequest m = new quickfix.fix50sp2.MarketDataRequest(
                        new MDReqID(c[1]), new SubscriptionRequestType('1'), new MarketDepth(0));
                quickfix.fix50sp2.MarketDataRequest.NoMDEntryTypes types = new quickfix.fix50sp2.MarketDataRequest.NoMDEntryTypes();
                types.set(new MDEntryType('0'));
                m.addGroup(types);
                types.set(new MDEntryType('1'));
                m.addGroup(types);
                quickfix.fix50sp2.MarketDataRequest.NoRelatedSym sym = new quickfix.fix50sp2.MarketDataRequest.NoRelatedSym();
                sym.set(new Symbol(c[2]));
                m.addGroup(sym);
                send(m);
                break;
            }
            case "logout":
                Session.lookupSession(session).logout("bye");
                break;
            default:
                throw new IllegalArgumentException("unknown command " + c[0]);
        }
    }

    // ------------------------------------------------------------------ main
    static PrivateKey readKey(Path pem) throws Exception {
        String text = Files.readString(pem).replaceAll("-----[A-Z ]+-----", "").replaceAll("\\s", "");
        return KeyFactory.getInstance("RSA").generatePrivate(new PKCS8EncodedKeySpec(Base64.getDecoder().decode(text)));
    }

    static Path trustStore(Path certPem, Path dir) throws Exception {
        X509Certificate cert = (X509Certificate) CertificateFactory.getInstance("X.509")
                .generateCertificate(Files.newInputStream(certPem));
        KeyStore store = KeyStore.getInstance("PKCS12");
        store.load(null, null);
        store.setCertificateEntry("tandem-fix", cert);
        Path file = dir.resolve("trust.p12");
        try (FileOutputStream out = new FileOutputStream(file.toFile())) {
            store.store(out, "changeit".toCharArray());
        }
        return file;
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> a = new HashMap<>();
        for (String arg : args) {
            int eq = arg.indexOf('=');
            a.put(arg.substring(0, eq), arg.substring(eq + 1));
        }
        Path store = Path.of(a.get("store"));
        Files.createDirectories(store);
        String config = String.join("\n",
                "[default]",
                "ConnectionType=initiator",
                "BeginString=FIXT.1.1",
                "DefaultApplVerID=FIX.5.0SP2",
                "SenderCompID=" + a.get("sender"),
                "TargetCompID=" + a.get("target"),
                "SocketConnectHost=" + a.get("host"),
                "SocketConnectPort=" + a.get("port"),
                "HeartBtInt=30",
                "ReconnectInterval=1",
                "NonStopSession=Y",
                "FileStorePath=" + store.resolve("qfj"),
                "ResetOnLogon=" + a.getOrDefault("reset", "N"),
                "UseDataDictionary=Y",
                "ValidateUserDefinedFields=N",
                "ValidateUnorderedGroupFields=N",
                "ValidateFieldsOutOfOrder=N",
                "AllowUnknownMsgFields=Y",
                "SocketUseSSL=Y",
                "SocketTrustStore=" + trustStore(Path.of(a.get("cert")), store),
                "SocketTrustStorePassword=changeit",
                "TrustStoreType=PKCS12",
                // MINA 2.1 (under QuickFIX/J 2.3) stalls in TLS 1.3 handshakes: 1.2, as most FIX venues offer
                "EnabledProtocols=TLSv1.2",
                "[session]",
                "");
        SessionSettings settings = new SessionSettings(new ByteArrayInputStream(config.getBytes(StandardCharsets.UTF_8)));
        FixClient app = new FixClient(readKey(Path.of(a.get("key"))), "Y".equals(a.get("cod")));
        SocketInitiator initiator = new SocketInitiator(app, new FileStoreFactory(settings), settings,
                new SLF4JLogFactory(settings), new DefaultMessageFactory());
        initiator.start();
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        while ((line = in.readLine()) != null) {
            if (line.isBlank()) continue;
            if (line.equals("quit")) break;
            try {
                app.command(line.split("\t"));
                emit("done", null);
            } catch (Exception e) {
                System.out.println("{\"event\":\"error\",\"text\":\"" + e.toString().replace("\"", "'") + "\"}");
                System.out.flush();
            }
        }
        initiator.stop(true);
        emit("stopped", null);
        System.exit(0);
    }
}
