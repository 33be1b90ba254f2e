// A small driver around CNRI's hdllib (handle.jar, 2006) for idnest's interoperability
// tests: tests/resolver/wire/test_hdllib_live.py compiles it when java and the jar are
// present. The jar is not part of the repository (licensing).
//
//   keys DIR                         RSA 2048 and DSA 1024 key pairs: DIR/{rsa,dsa}.pub.bin
//                                    (hdllib's Util.getBytesFromPublicKey) and .pk8 (PKCS#8)
//   udp HOST PORT HANDLE             resolve over UDP only (sendHdlUdpRequest)
//   site HOST PORT                   GET_SITE_INFO over UDP; print what hdllib read
//   follow HOST PORT PREFIX HANDLE   what a Handle client does for a self-deployed prefix:
//                                    HANDLE at HOST (prints the answer code: idnest's
//                                    referral), then 0.NA/PREFIX's HS_SITE values decoded by
//                                    hdllib's Encoder, then HANDLE sent to that site by
//                                    hdllib's sendRequestToSite (it picks server and port)
//   admin HOST PORT KIND ID INDEX CRED HANDLE
//                                    CREATE_HANDLE HANDLE with one URL value, authenticated
//                                    as INDEX:ID with KIND seckey (CRED = the secret) or
//                                    rsa / dsa (CRED = a .pk8 file); hdllib picks the TCP
//                                    interface from the site info it fetched over UDP
//                                    (its ports are pointed at PORT, the capture proxy)
//
// Output: one "OK ..." or "FAIL ..." line per step; exit status 0 only if all are OK.

import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.spec.PKCS8EncodedKeySpec;

import net.handle.hdllib.AbstractRequest;
import net.handle.hdllib.AbstractResponse;
import net.handle.hdllib.AuthenticationInfo;
import net.handle.hdllib.CreateHandleRequest;
import net.handle.hdllib.Encoder;
import net.handle.hdllib.ErrorResponse;
import net.handle.hdllib.GenericRequest;
import net.handle.hdllib.GetSiteInfoResponse;
import net.handle.hdllib.HandleResolver;
import net.handle.hdllib.HandleValue;
import net.handle.hdllib.Interface;
import net.handle.hdllib.PublicKeyAuthenticationInfo;
import net.handle.hdllib.ResolutionRequest;
import net.handle.hdllib.ResolutionResponse;
import net.handle.hdllib.SecretKeyAuthenticationInfo;
import net.handle.hdllib.ServerInfo;
import net.handle.hdllib.SiteInfo;
import net.handle.hdllib.Util;

public class HdlDriver {
    static byte[] b(String s) { return Util.encodeString(s); }

    static String describe(AbstractResponse r) {
        if (r instanceof ErrorResponse) {
            return "rc=" + r.responseCode + " " + Util.decodeString(((ErrorResponse) r).message);
        }
        return "rc=" + r.responseCode;
    }

    static void keys(Path dir) throws Exception {
        Files.createDirectories(dir);
        String[][] kinds = {{"rsa", "RSA", "2048"}, {"dsa", "DSA", "1024"}};
        for (String[] k : kinds) {
            KeyPairGenerator gen = KeyPairGenerator.getInstance(k[1]);
            gen.initialize(Integer.parseInt(k[2]));
            KeyPair pair = gen.generateKeyPair();
            Files.write(dir.resolve(k[0] + ".pub.bin"), Util.getBytesFromPublicKey(pair.getPublic()));
            Files.write(dir.resolve(k[0] + ".pk8"), pair.getPrivate().getEncoded());
            System.out.println("OK keys " + k[0]);
        }
    }

    static HandleResolver resolver() {
        HandleResolver r = new HandleResolver();
        r.setTcpTimeout(10000);
        return r;
    }

    static boolean udp(String host, int port, String handle) throws Exception {
        ResolutionRequest req = new ResolutionRequest(b(handle), null, null, null);
        AbstractResponse resp = resolver().sendHdlUdpRequest(req, InetAddress.getByName(host), port);
        if (!(resp instanceof ResolutionResponse)) {
            System.out.println("FAIL udp " + handle + " " + describe(resp));
            return false;
        }
        HandleValue[] values = ((ResolutionResponse) resp).getHandleValues();
        int bytes = 0;
        for (HandleValue v : values) bytes += v.getData().length;
        System.out.println("OK udp " + handle + " values=" + values.length + " databytes=" + bytes);
        return true;
    }

    static SiteInfo site(String host, int port) throws Exception {
        GenericRequest req = new GenericRequest(b("/"), AbstractRequest.OC_GET_SITE_INFO, null);
        AbstractResponse resp = resolver().sendHdlUdpRequest(req, InetAddress.getByName(host), port);
        if (!(resp instanceof GetSiteInfoResponse)) {
            System.out.println("FAIL site " + describe(resp));
            return null;
        }
        return ((GetSiteInfoResponse) resp).siteInfo;
    }

    static boolean printSite(String host, int port) throws Exception {
        SiteInfo s = site(host, port);
        if (s == null) return false;
        for (ServerInfo server : s.servers) {
            StringBuilder ifs = new StringBuilder();
            for (Interface i : server.interfaces) {
                ifs.append(' ').append(Interface.protocolName(i.protocol)).append('/').append(i.port);
            }
            System.out.println("OK site server=" + server.serverId + " address="
                + server.getAddressString() + " key=" + server.getPublicKey().getAlgorithm() + ifs);
        }
        return true;
    }

    static PrivateKey privateKey(String kind, Path file) throws Exception {
        KeyFactory f = KeyFactory.getInstance(kind.equals("rsa") ? "RSA" : "DSA");
        return f.generatePrivate(new PKCS8EncodedKeySpec(Files.readAllBytes(file)));
    }

    static boolean admin(String host, int port, String kind, String id, int index, String cred,
                         String handle) throws Exception {
        SiteInfo s = site(host, port);
        if (s == null) return false;
        ServerInfo server = s.servers[0];
        for (Interface i : server.interfaces) i.port = port;  // through the capture proxy
        AuthenticationInfo auth = kind.equals("seckey")
            ? new SecretKeyAuthenticationInfo(b(id), index, b(cred))
            : new PublicKeyAuthenticationInfo(b(id), index, privateKey(kind, Path.of(cred)));
        HandleValue url = new HandleValue(1, b("URL"), b("https://hdllib.example/" + kind));
        CreateHandleRequest req = new CreateHandleRequest(b(handle), new HandleValue[] {url}, auth);
        AbstractResponse resp = resolver().sendRequestToServer(req, server);
        boolean ok = resp.responseCode == AbstractMessage_SUCCESS;
        System.out.println((ok ? "OK" : "FAIL") + " admin " + kind + " " + handle + " " + describe(resp));
        return ok;
    }

    static final int AbstractMessage_SUCCESS = 1;

    static boolean follow(String host, int port, String prefix, String handle) throws Exception {
        HandleResolver r = resolver();
        InetAddress at = InetAddress.getByName(host);
        AbstractResponse direct = r.sendHdlUdpRequest(
            new ResolutionRequest(b(handle), null, null, null), at, port);
        System.out.println("OK direct " + handle + " " + describe(direct));
        AbstractResponse p = r.sendHdlUdpRequest(
            new ResolutionRequest(b("0.NA/" + prefix), new byte[][] {b("HS_SITE")}, null, null),
            at, port);
        if (!(p instanceof ResolutionResponse)) {
            System.out.println("FAIL site-values 0.NA/" + prefix + " " + describe(p));
            return false;
        }
        SiteInfo site = null;
        for (HandleValue v : ((ResolutionResponse) p).getHandleValues()) {
            if (!v.getTypeAsString().equals("HS_SITE")) continue;
            SiteInfo s = new SiteInfo();
            Encoder.decodeSiteInfoRecord(v.getData(), 0, s);
            StringBuilder line = new StringBuilder("OK hs_site servers=" + s.servers.length);
            for (ServerInfo srv : s.servers) {
                line.append(" ").append(srv.getAddressString());
                for (Interface i : srv.interfaces) {
                    line.append(" ").append(Interface.protocolName(i.protocol)).append("/").append(i.port);
                }
            }
            System.out.println(line);
            if (site == null) site = s;
        }
        if (site == null) {
            System.out.println("FAIL no HS_SITE at 0.NA/" + prefix);
            return false;
        }
        // Each server of the site in turn, through the interface hdllib picks for UDP.
        boolean any = false;
        ResolutionRequest req = new ResolutionRequest(b(handle), null, null, null);
        for (ServerInfo srv : site.servers) {
            String who = "server " + srv.getAddressString();
            try {
                Interface udp = srv.interfaceWithProtocol(Interface.SP_HDL_UDP, req);
                AbstractResponse answer = r.sendRequestToInterface(req, srv, udp);
                if (!(answer instanceof ResolutionResponse)) {
                    System.out.println("FAIL " + who + " " + describe(answer));
                    continue;
                }
                StringBuilder urls = new StringBuilder();
                for (HandleValue v : ((ResolutionResponse) answer).getHandleValues()) {
                    if (v.getTypeAsString().equals("URL")) urls.append(" ").append(v.getDataAsString());
                }
                System.out.println("OK " + who + " rc=" + answer.responseCode + " url" + urls);
                any = true;
            } catch (Exception e) {
                System.out.println("FAIL " + who + " " + e.getClass().getSimpleName());
            }
        }
        return any;
    }

    public static void main(String[] a) throws Exception {
        boolean ok;
        try {
            switch (a[0]) {
                case "keys": keys(Path.of(a[1])); ok = true; break;
                case "udp": ok = udp(a[1], Integer.parseInt(a[2]), a[3]); break;
                case "site": ok = printSite(a[1], Integer.parseInt(a[2])); break;
                case "follow": ok = follow(a[1], Integer.parseInt(a[2]), a[3], a[4]); break;
                case "admin":
                    ok = admin(a[1], Integer.parseInt(a[2]), a[3], a[4], Integer.parseInt(a[5]), a[6], a[7]);
                    break;
                default: System.out.println("FAIL unknown command " + a[0]); ok = false;
            }
        } catch (Exception e) {
            System.out.println("FAIL " + a[0] + " " + e);
            ok = false;
        }
        System.exit(ok ? 0 : 1);
    }
}
