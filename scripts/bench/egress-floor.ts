/**
 * What the kernel charges the sending CPU for one mirrored copy, by egress path (docs/benchmarks.md,
 * "Live data plane", fourth session): a C sender compiled at run time sends 130-byte UDP packets (a
 * jmirror copy of a small frame) from one namespace to a mediation address in another over veth, in
 * batches of 32, pinned to CPU 1, and reports its own CPU time (getrusage: user + system, which with
 * tick-based accounting includes the softirq work done on its CPU) per packet.
 *
 *   node --import tsx scripts/bench/egress-floor.ts [--packets 2000000] [--rounds 2] [--modes raw,udp,packetq,packet,ring] [--peer up|down|both]
 *
 * Modes: `raw` (IPv4 raw socket, IP_HDRINCL, sendmmsg: iapd's default egress), `udp` (a connected
 * UDP socket, sendmmsg), `packetq` (AF_PACKET sendmmsg through the qdisc), `packet` (AF_PACKET
 * sendmmsg with PACKET_QDISC_BYPASS: iapd's `egress.mode: packet`), `ring` (AF_PACKET TPACKET_V2
 * TX ring with PACKET_QDISC_BYPASS, one send(2) per batch).
 *
 * The mediation address resolves to a MAC address nobody has, as in scripts/bench-dataplane.ts, so
 * the receiving end drops each packet at the link layer. On veth that receive still runs in softirq
 * on the sender's CPU; `--peer down` sets the receiving end down, so that veth drops at transmit and
 * what remains is the sender's own path (AF_PACKET then fails with ENOBUFS and is left out).
 * Modes alternate within each round, so a noisy neighbour shows as spread, not as a bias.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Lab } from "../netns/netns.ts";

const { values } = parseArgs({
  options: {
    packets: { type: "string", default: "2000000" },
    rounds: { type: "string", default: "2" },
    modes: { type: "string", default: "raw,udp,packetq,packet,ring" },
    peer: { type: "string", default: "both" },
  },
});
const MODES = ["raw", "udp", "packetq", "packet", "ring"];
const modes = values.modes.split(",");
for (const m of modes) if (!MODES.includes(m)) throw new Error(`--modes: unknown mode ${m} (${MODES.join(", ")})`);
const peers = values.peer === "both" ? ["up", "down"] : [values.peer];
for (const p of peers) if (p !== "up" && p !== "down") throw new Error(`--peer: expected up, down or both, found ${p}`);
const PACKETS = Number(values.packets);
if (!(PACKETS > 0 && PACKETS <= 50_000_000)) throw new Error("--packets: 1 to 50,000,000");

const SENDER_C = String.raw`#define _GNU_SOURCE
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>
#define BATCH 32
#define LEN 130
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec/1e9;}
static double cpu(void){struct rusage r;getrusage(RUSAGE_SELF,&r);return r.ru_utime.tv_sec+r.ru_utime.tv_usec/1e6+r.ru_stime.tv_sec+r.ru_stime.tv_usec/1e6;}
static unsigned short csum(unsigned char*p,int n){unsigned s=0;for(int k=0;k<n;k+=2)s+=(p[k]<<8)|p[k+1];while(s>>16)s=(s&0xffff)+(s>>16);return ~s&0xffff;}
int main(int argc,char**argv){
  if(argc!=4){fprintf(stderr,"usage: send raw|udp|packetq|packet|ring IFACE PACKETS\n");return 2;}
  const char*mode=argv[1]; const char*ifname=argv[2]; long total=atol(argv[3]);
  unsigned char pkt[BATCH][14+LEN]; memset(pkt,0,sizeof pkt);
  for(int i=0;i<BATCH;i++){unsigned char*f=pkt[i];memcpy(f,"\x02\x00\x5e\x00\x53\x99\x02\x00\x00\x00\x00\x03\x08\x00",14);
    unsigned char*ip=f+14;ip[0]=0x45;ip[2]=LEN>>8;ip[3]=LEN&255;ip[8]=64;ip[9]=17;
    ip[12]=198;ip[13]=51;ip[14]=100;ip[15]=1;ip[16]=198;ip[17]=51;ip[18]=100;ip[19]=2;
    unsigned short c=csum(ip,20);ip[10]=c>>8;ip[11]=c&255; unsigned char*u=ip+20;u[0]=0x75;u[1]=0x4e;u[2]=0x75;u[3]=0x4e;u[4]=(LEN-20)>>8;u[5]=(LEN-20)&255;}
  struct mmsghdr m[BATCH]; struct iovec v[BATCH]; memset(m,0,sizeof m);
  struct sockaddr_in dst={.sin_family=AF_INET}; inet_pton(AF_INET,"198.51.100.2",&dst.sin_addr);
  struct sockaddr_ll sll={.sll_family=AF_PACKET,.sll_protocol=htons(ETH_P_IP),.sll_ifindex=if_nametoindex(ifname),.sll_halen=6};
  memcpy(sll.sll_addr,"\x02\x00\x5e\x00\x53\x99",6);
  int fd; int off=0, withname=1; void*name=&dst; int namelen=sizeof dst;
  int one=1;
  if(!strcmp(mode,"raw")){fd=socket(AF_INET,SOCK_RAW,IPPROTO_RAW);off=14;}
  else if(!strcmp(mode,"udp")){fd=socket(AF_INET,SOCK_DGRAM,0);off=14+28;connect(fd,(void*)&dst,sizeof dst);withname=0;}
  else if(!strcmp(mode,"packet")||!strcmp(mode,"packetq")){fd=socket(AF_PACKET,SOCK_DGRAM,htons(ETH_P_IP));off=14;name=&sll;namelen=sizeof sll;
    if(!strcmp(mode,"packet")) setsockopt(fd,SOL_PACKET,PACKET_QDISC_BYPASS,&one,sizeof one);}
  else if(!strcmp(mode,"ring")){fd=socket(AF_PACKET,SOCK_RAW,htons(ETH_P_IP));setsockopt(fd,SOL_PACKET,PACKET_QDISC_BYPASS,&one,sizeof one);}
  else {fprintf(stderr,"usage: send raw|udp|packetq|packet|ring IFACE PACKETS\n");return 2;}
  if(fd<0){perror("socket");return 1;}
  long sent=0; double c0=cpu(),t0=now();
  if(!strcmp(mode,"ring")){
    int ver=TPACKET_V2; setsockopt(fd,SOL_PACKET,PACKET_VERSION,&ver,sizeof ver);
    struct tpacket_req req={.tp_block_size=1<<20,.tp_block_nr=4,.tp_frame_size=2048,.tp_frame_nr=(4<<20)/2048};
    if(setsockopt(fd,SOL_PACKET,PACKET_TX_RING,&req,sizeof req)){perror("PACKET_TX_RING");return 1;}
    if(bind(fd,(void*)&sll,sizeof sll)){perror("bind");return 1;}
    unsigned char*ring=mmap(0,4<<20,PROT_READ|PROT_WRITE,MAP_SHARED,fd,0); int nf=req.tp_frame_nr, cur=0;
    if(ring==MAP_FAILED){perror("mmap");return 1;}
    c0=cpu();t0=now();
    while(sent<total){
      for(int i=0;i<BATCH;i++){struct tpacket2_hdr*h=(void*)(ring+(long)cur*2048);
        for(int tries=0;h->tp_status!=TP_STATUS_AVAILABLE;tries++){if(tries==1000){fprintf(stderr,"TX ring frame not released\n");return 1;}struct pollfd p={fd,POLLOUT,0};poll(&p,1,1);}
        unsigned char*d=(unsigned char*)h+TPACKET2_HDRLEN-sizeof(struct sockaddr_ll); memcpy(d,pkt[i],14+LEN); h->tp_len=14+LEN; h->tp_status=TP_STATUS_SEND_REQUEST; cur=(cur+1)%nf;}
      if(send(fd,NULL,0,0)<0){perror("send");return 1;} sent+=BATCH;}
  } else {
    for(int i=0;i<BATCH;i++){v[i].iov_base=pkt[i]+off;v[i].iov_len=14+LEN-off;m[i].msg_hdr.msg_iov=&v[i];m[i].msg_hdr.msg_iovlen=1;if(withname){m[i].msg_hdr.msg_name=name;m[i].msg_hdr.msg_namelen=namelen;}}
    c0=cpu();t0=now();
    while(sent<total){int n=sendmmsg(fd,m,BATCH,0);if(n<0){perror("sendmmsg");return 1;}sent+=n;}
  }
  double c=cpu()-c0,t=now()-t0;
  printf("%-8s %ld pkts %.0f ns CPU/pkt %.0f ns wall/pkt\n",mode,sent,c*1e9/sent,t*1e9/sent);
  return 0;
}
`;

const dir = mkdtempSync(join(tmpdir(), "iapd-egress-floor-"));
const lab = new Lab();
try {
  writeFileSync(join(dir, "send.c"), SENDER_C);
  const sender = join(dir, "send");
  execFileSync("gcc", ["-O2", "-o", sender, join(dir, "send.c")]);
  const tx = lab.namespace("iapddp-eftx");
  const md = lab.namespace("iapddp-efmd");
  lab.veth([tx, "iapddp-ef0", "198.51.100.1/24"], [md, "iapddp-ef1", "198.51.100.2/24"]);
  lab.run(tx, "ip", "neigh", "replace", "198.51.100.2", "lladdr", "02:00:5e:00:53:99", "dev", "iapddp-ef0", "nud", "permanent");
  const results = new Map<string, number[]>();
  for (let round = 1; round <= Number(values.rounds); round++) {
    for (const peer of peers) {
      lab.run(md, "ip", "link", "set", "iapddp-ef1", peer);
      for (const mode of modes) {
        if (peer === "down" && mode !== "raw" && mode !== "udp") continue;
        const line = lab.run(tx, "taskset", "-c", "1", sender, mode, "iapddp-ef0", String(PACKETS)).trim();
        const ns = Number(/ ([\d.]+) ns CPU\/pkt/.exec(line)?.[1]);
        const key = `${mode}, receiver ${peer}`;
        results.set(key, [...(results.get(key) ?? []), ns]);
        console.log(`round ${round}, receiver ${peer}: ${line}`);
      }
    }
  }
  console.log("\n| egress | receiving end | sender CPU ns per packet (each round) |\n|---|---|---|");
  for (const [key, ns] of results) {
    const [mode, peer] = key.split(", receiver ");
    console.log(`| ${mode} | ${peer} | ${ns.map((n) => n.toFixed(0)).join(", ")} |`);
  }
} finally {
  lab.close();
  rmSync(dir, { recursive: true, force: true });
}
